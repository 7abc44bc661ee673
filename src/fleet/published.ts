/**
 * What the fleet published, beside what this host holds: the one rule for "which copy serves" that the daemon's
 * sources and the commands (`sync`, `status`) share. A login: the fresher of this host's and the fleet's (a follower
 * holds none; a standby's own copy is stale between hand-overs). A setup-token: the one saved last, and either may
 * replace what agents hold from the other.
 */
import type { Config } from "../config/config.js";
import type { LoginReading } from "../sources/index.js";
import type { SetupToken, SourceCredential } from "../types.js";
import type { FleetMember } from "./member.js";
import { withFleet } from "./one-shot.js";

/** The fleet's copy when this host has none or an older one; this host's otherwise. */
export function fresherLogin(
  local: SourceCredential | undefined,
  published: SourceCredential | undefined,
): SourceCredential | undefined {
  return published && (!local || published.expiresAt > local.expiresAt) ? published : local;
}

/** A login reading with the fleet's copy where that is fresher (its error gone with it). */
export function withPublishedLogin(reading: LoginReading, published: SourceCredential | undefined): LoginReading {
  const login = fresherLogin(reading.login, published);
  return login === reading.login || !login ? reading : { config: reading.config, login };
}

/** One setup-token per profile id: the one saved last; the winner's `ours` takes the other's digests too. */
export function withFleetTokens(own: readonly SetupToken[], fleet: readonly SetupToken[]): SetupToken[] {
  const byId = new Map(own.map((token) => [token.profileId, token]));
  for (const token of fleet) {
    const mine = byId.get(token.profileId);
    if (mine && (token.savedAt ?? 0) <= (mine.savedAt ?? 0)) continue;
    const ours = mine ? new Set([...(mine.ours ?? []), ...(token.ours ?? [])]) : token.ours;
    byId.set(token.profileId, { ...token, ...(ours ? { ours } : {}) });
  }
  return [...byId.values()];
}

/** The fleet as a command sees it once: its logins by profile id and its setup-tokens, or why it could not look. */
export interface FleetReading {
  logins: Map<string, SourceCredential>;
  setupTokens: SetupToken[];
  /** etcd did not answer: the command goes on with what this host holds, and says so. */
  warning?: string;
}

/** What a member has read of the fleet, as a reading (the daemon's own, with no call to etcd). */
export function readingOf(member: FleetMember): FleetReading {
  const logins = new Map<string, SourceCredential>();
  for (const id of member.publishedLogins()) {
    const login = member.login(id);
    if (login) logins.set(id, login);
  }
  return { logins, setupTokens: member.setupTokens() };
}

/** The fleet as a command reads it once, now; undefined outside fleet mode. */
export async function readFleet(config: Config, env: NodeJS.ProcessEnv): Promise<FleetReading | undefined> {
  if (!config.fleet) return undefined;
  try {
    return await withFleet(config, env, async (member) => {
      await member.look();
      return readingOf(member);
    }).then((reading) => reading!);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { logins: new Map(), setupTokens: [], warning: `${why}; shown as this host holds it` };
  }
}
