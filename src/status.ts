/**
 * What `status` reports: the source, and for every agent our profile's credential, its markings and
 * whether it matches the source. Exit codes follow `moltbot models status --check`.
 */
import { SourceError, AuthSyncError, messageOf } from "./errors.js";
import { fingerprint } from "./fingerprint.js";
import { profileSecret } from "./reconcile.js";
import { readStore } from "./stores/auth-profiles.js";
import type { Agent } from "./stores/agents.js";
import { storeFile } from "./targets.js";
import type { AuthProfileStore, ProfileUsageStats, SourceCredential } from "./types.js";

export const STATUS_OK = 0;
export const STATUS_UNUSABLE = 1;
export const STATUS_EXPIRING = 2;

export interface Marking {
  profile: string;
  kind: "cooldown" | "disabled";
  reason?: string;
  until: number;
}

export interface ProfileStatus {
  type: string;
  fingerprint: string;
  expires?: number;
  matchesSource?: boolean;
}

export interface AgentStatus {
  agent: string;
  file: string;
  /** Undefined when the store does not hold our profile. */
  profile?: ProfileStatus;
  /** Active cooldowns and disables, for every profile in the store. */
  markings: Marking[];
  error?: string;
}

export type SourceStatus =
  | { ok: true; origin: string; fingerprint: string; expiresAt: number; hasRefreshToken: boolean }
  | { ok: false; problem: string; error: string };

/** The gateway's rule: a profile is unusable while now < max(cooldownUntil, disabledUntil). */
export function activeMarkings(usageStats: Record<string, ProfileUsageStats> | undefined, now: number): Marking[] {
  const markings: Marking[] = [];
  for (const [profile, stats] of Object.entries(usageStats ?? {})) {
    if (typeof stats !== "object" || stats === null) continue;
    const disabled = finite(stats.disabledUntil);
    const cooldown = finite(stats.cooldownUntil);
    if (disabled !== undefined && now < disabled) {
      markings.push({ profile, kind: "disabled", until: disabled, ...(typeof stats.disabledReason === "string" ? { reason: stats.disabledReason } : {}) });
    } else if (cooldown !== undefined && now < cooldown) {
      markings.push({ profile, kind: "cooldown", until: cooldown });
    }
  }
  return markings.sort((a, b) => a.until - b.until);
}

function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

export function sourceStatus(read: SourceCredential | Error): SourceStatus {
  if (read instanceof Error) {
    const problem = read instanceof SourceError ? read.problem : read instanceof AuthSyncError ? read.code : "error";
    return { ok: false, problem, error: messageOf(read) };
  }
  return { ok: true, origin: read.origin, fingerprint: fingerprint(read.accessToken), expiresAt: read.expiresAt, hasRefreshToken: Boolean(read.refreshToken) };
}

export function profileStatus(store: AuthProfileStore | undefined, profileId: string, source: SourceCredential | undefined): ProfileStatus | undefined {
  const profile = store?.profiles[profileId];
  if (!profile) return undefined;
  const secret = profileSecret(profile);
  return {
    type: String(profile.type),
    fingerprint: fingerprint(secret),
    ...(typeof profile.expires === "number" ? { expires: profile.expires } : {}),
    ...(source ? { matchesSource: secret === source.accessToken } : {}),
  };
}

export async function agentStatus(agent: Agent, profileId: string, source: SourceCredential | undefined, now: number): Promise<AgentStatus> {
  const file = storeFile(agent);
  try {
    const store = await readStore(file);
    const profile = profileStatus(store, profileId, source);
    return { agent: agent.id, file, ...(profile ? { profile } : {}), markings: activeMarkings(store?.usageStats, now) };
  } catch (err) {
    return { agent: agent.id, file, markings: [], error: messageOf(err) };
  }
}

/** 1 when anything is expired, missing or unusable; 2 when something expires within the warning window. */
export function statusExitCode(source: SourceStatus, agents: readonly AgentStatus[], profileId: string, now: number, expiryWarningMs: number): number {
  const expiries: number[] = [];
  if (!source.ok) return STATUS_UNUSABLE;
  expiries.push(source.expiresAt);
  for (const agent of agents) {
    if (agent.error || !agent.profile) return STATUS_UNUSABLE;
    if (agent.markings.some((m) => m.profile === profileId)) return STATUS_UNUSABLE;
    if (agent.profile.expires !== undefined) expiries.push(agent.profile.expires);
  }
  if (expiries.some((at) => at <= now)) return STATUS_UNUSABLE;
  if (expiries.some((at) => at - now <= expiryWarningMs)) return STATUS_EXPIRING;
  return STATUS_OK;
}
