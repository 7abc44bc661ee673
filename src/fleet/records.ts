/**
 * What the fleet keeps in etcd, under its prefix (docs/fleet.md has the table):
 *   hosts/<host>                   each host's last sync, on the host's lease (gone when the host is)
 *   election/logins/<login>/<id>   the election of the host that refreshes the login (etcd3's Election)
 *   logins/<login>/access          the login's access token, sealed with the fleet key, on a lease ending at expiry
 *   logins/<login>/credentials     the login's whole claudeAiOauth, sealed with the login key (standby hosts only)
 *   logins/<login>/refreshing      the leader is running claude with the refresh token of this digest
 *   setup-tokens/<profile>         a setup-token from `token set`, sealed with the fleet key
 * Every value is read as hostile input: a value of the wrong shape is skipped with one line, never trusted.
 */
import * as z from "zod";
import type { Sealed } from "./seal.js";

export const hostKey = (host: string) => `hosts/${host}`;
export const electionName = (login: string) => `logins/${login}`;
export const accessKey = (login: string) => `logins/${login}/access`;
export const credentialsKey = (login: string) => `logins/${login}/credentials`;
export const refreshingKey = (login: string) => `logins/${login}/refreshing`;
export const setupTokenKey = (profile: string) => `setup-tokens/${profile}`;

const sealed: z.ZodType<Sealed> = z.strictObject({
  sealed: z.literal(1),
  key: z.string().max(64),
  iv: z.string().max(64),
  tag: z.string().max(64),
  data: z.string().max(256 * 1024),
});
const epochMs = z.number().int().nonnegative();
const host = z.string().max(64);

export const hostRecord = z.looseObject({
  host,
  pid: z.number().int(),
  startedAt: epochMs,
  lastSyncAt: epochMs.optional(),
  lastSyncSummary: z.string().max(2000).optional(),
  /** The logins this host holds locally and campaigns for. */
  standby: z.array(z.string().max(200)).max(64),
});
export type HostRecord = z.output<typeof hostRecord>;

export const accessRecord = z.looseObject({
  by: host,
  publishedAt: epochMs,
  expiresAt: epochMs,
  loginEndsAt: epochMs.optional(),
  fingerprint: z.string().max(40),
  token: sealed,
});
export type AccessRecord = z.output<typeof accessRecord>;

export const credentialsRecord = z.looseObject({
  by: host,
  publishedAt: epochMs,
  expiresAt: epochMs,
  /** Digest of the refresh token inside: a spent one is known without opening the seal. */
  refreshDigest: z.string().max(128),
  oauth: sealed,
});
export type CredentialsRecord = z.output<typeof credentialsRecord>;

export const refreshingRecord = z.looseObject({ host, spends: z.string().max(128), at: epochMs });
export type RefreshingRecord = z.output<typeof refreshingRecord>;

export const setupTokenRecord = z.looseObject({
  by: host,
  savedAt: epochMs,
  expires: epochMs.optional(),
  fingerprint: z.string().max(40),
  /** Digests of the tokens under this id that hosts may replace with it (sources/token-book.ts). */
  ours: z.array(z.string().max(128)).max(64).optional(),
  token: sealed,
});

/** A value read from etcd, as its schema allows, or why not (one line). */
export function parseRecord<T>(schema: z.ZodType<T>, key: string, text: string): T | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `${key} is not JSON`;
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return `${key}: ${issue.path.join(".") || "value"}: ${issue.message}`;
}
