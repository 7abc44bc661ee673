/**
 * What `status` reports: the source, and for every agent our profile's credential, its markings and
 * whether it matches the source. Exit codes follow `moltbot models status --check`.
 */
import { finite } from "./cooldown.js";
import { SourceError, AuthSyncError, messageOf } from "./errors.js";
import { fingerprint } from "./fingerprint.js";
import { profileSecret } from "./reconcile.js";
import type { StoreAdapter, UsageRules } from "./stores/adapter.js";
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
  /** This generation's `cooldownClassification`, as `openclaw models status --json` lists it. */
  classification?: string;
  until: number;
}

export interface ProfileStatus {
  profileId: string;
  /** False when the store does not hold the profile. */
  present: boolean;
  type?: string;
  fingerprint?: string;
  expires?: number;
  /** Whether the stored secret is the one the source offers now. */
  matchesSource?: boolean;
}

export interface AgentStatus {
  agent: string;
  file: string;
  /** One entry per profile we keep: the Claude login's and every setup-token's. */
  profiles: ProfileStatus[];
  /** Where the gateway keeps auth itself (SQLite era): every other Anthropic profile the agent reads. */
  otherProfiles?: ProfileStatus[];
  /** Active cooldowns and disables, for every profile in the store. */
  markings: Marking[];
  error?: string;
}

export type SourceStatus =
  | { ok: true; origin: string; fingerprint: string; expiresAt: number; hasRefreshToken: boolean }
  | { ok: false; problem: string; error: string };

/**
 * The SQLite era's rule (`unusableProfiles` of `openclaw models status --json`): unusable until the latest of
 * blockedUntil, cooldownUntil and disabledUntil; "disabled" while the disable runs, otherwise "cooldown" with
 * the cooldown's reason, which a block alone does not have.
 */
export function unusableProfiles(
  usageStats: Record<string, ProfileUsageStats> | undefined,
  now: number,
  rules: Pick<UsageRules, "unusableUntil">,
): Marking[] {
  const markings: Marking[] = [];
  for (const [profile, stats] of Object.entries(usageStats ?? {})) {
    if (typeof stats !== "object" || stats === null) continue;
    const until = rules.unusableUntil(stats);
    if (until === undefined || now >= until) continue;
    const disabled = now < (finite(stats.disabledUntil) ?? 0);
    const reason = disabled ? stats.disabledReason : stats.cooldownReason;
    const classification = disabled ? undefined : stats.cooldownClassification;
    markings.push({
      profile,
      kind: disabled ? "disabled" : "cooldown",
      until,
      ...(typeof reason === "string" ? { reason } : {}),
      ...(typeof classification === "string" ? { classification } : {}),
    });
  }
  return markings.sort((a, b) => a.until - b.until);
}

/** The gateway's rule: a profile is unusable while now < max(cooldownUntil, disabledUntil). */
export function activeMarkings(
  usageStats: Record<string, ProfileUsageStats> | undefined,
  now: number,
  rules?: Pick<UsageRules, "unusableUntil">,
): Marking[] {
  if (rules) return unusableProfiles(usageStats, now, rules);
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

export function sourceStatus(read: SourceCredential | Error): SourceStatus {
  if (read instanceof Error) {
    const problem = read instanceof SourceError ? read.problem : read instanceof AuthSyncError ? read.code : "error";
    return { ok: false, problem, error: messageOf(read) };
  }
  return { ok: true, origin: read.origin, fingerprint: fingerprint(read.accessToken), expiresAt: read.expiresAt, hasRefreshToken: Boolean(read.refreshToken) };
}

export function profileStatus(store: AuthProfileStore | undefined, profileId: string, offered: string | undefined): ProfileStatus {
  const profile = store?.profiles[profileId];
  if (!profile) return { profileId, present: false };
  const secret = profileSecret(profile);
  return {
    profileId,
    present: true,
    type: String(profile.type),
    fingerprint: fingerprint(secret),
    ...(typeof profile.expires === "number" ? { expires: profile.expires } : {}),
    ...(offered !== undefined ? { matchesSource: secret === offered } : {}),
  };
}

/** `expected` maps each profile id we keep to the secret its source offers now (undefined when unknown). */
export async function agentStatus(agent: Agent, adapter: StoreAdapter, expected: ReadonlyMap<string, string | undefined>, now: number): Promise<AgentStatus> {
  const file = storeFile(agent);
  try {
    const store = await adapter.read(agent.dir);
    const profiles = [...expected].map(([id, offered]) => profileStatus(store, id, offered));
    const markings = activeMarkings(store?.usageStats, now, adapter.usage);
    if (!adapter.usage) return { agent: agent.id, file, profiles, markings };
    const others = Object.keys(store?.profiles ?? {})
      .filter((id) => !expected.has(id) && store?.profiles[id]?.provider === "anthropic")
      .sort()
      .map((id) => profileStatus(store, id, undefined));
    return { agent: agent.id, file: adapter.files(agent.dir)[0]!, profiles, otherProfiles: others, markings };
  } catch (err) {
    return { agent: agent.id, file, profiles: [], markings: [], error: messageOf(err) };
  }
}

/**
 * 1 when anything is expired, missing or unusable; 2 when something expires within the warning window.
 * The login counts unless the host runs on setup-tokens alone (no login at all, and tokens to sync).
 */
export function statusExitCode(source: SourceStatus, agents: readonly AgentStatus[], now: number, expiryWarningMs: number, loginOptional: boolean): number {
  const expiries: number[] = [];
  if (source.ok) expiries.push(source.expiresAt);
  else if (!(loginOptional && source.problem === "not_logged_in")) return STATUS_UNUSABLE;
  for (const agent of agents) {
    if (agent.error) return STATUS_UNUSABLE;
    for (const profile of agent.profiles) {
      if (!profile.present) return STATUS_UNUSABLE;
      if (agent.markings.some((m) => m.profile === profile.profileId)) return STATUS_UNUSABLE;
      if (profile.expires !== undefined) expiries.push(profile.expires);
    }
  }
  if (expiries.some((at) => at <= now)) return STATUS_UNUSABLE;
  if (expiries.some((at) => at - now <= expiryWarningMs)) return STATUS_EXPIRING;
  return STATUS_OK;
}
