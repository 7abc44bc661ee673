/**
 * Cooldowns the gateway honours (moltbot-store.md §4–5), as pure functions over `usageStats` entries.
 * The gateway skips a profile while `now < max(cooldownUntil, disabledUntil)`; writing its own fields with
 * its own ladder keeps its later failures and successes consistent with ours.
 */
import { isDeepStrictEqual } from "node:util";
import type { AuthProfileStore, ProfileUsageStats } from "../types.js";

export type FailureReason = "auth" | "format" | "rate_limit" | "billing" | "timeout" | "unknown";

export interface Failure {
  reason: FailureReason;
  /** Only a person can fix it (log in again, or a setup-token): disable and keep it disabled. */
  needsLogin: boolean;
  /** One line, no secrets. */
  message: string;
  /** The last line the failing program printed (scrubbed): logged in a field, never in the message. */
  detail?: string;
}

export interface CooldownConfig {
  billingBackoffMs: number;
  billingMaxMs: number;
  failureWindowMs: number;
}

const HOUR = 3_600_000;
export const DEFAULT_COOLDOWN_CONFIG: CooldownConfig = {
  billingBackoffMs: 5 * HOUR,
  billingMaxMs: 24 * HOUR,
  failureWindowMs: 24 * HOUR,
};

/**
 * A dead login stays disabled this long, and is extended whenever less than half of it is left while the
 * problem lasts: the gateway keeps failing over instead of retrying it every few minutes.
 */
export const NEEDS_LOGIN_DISABLE_MS = HOUR;

/** The gateway's patterns (`classifyFailoverReason`), in its order, on lower-cased text. */
const PATTERNS: Array<[FailureReason, RegExp]> = [
  [
    "rate_limit",
    /rate[_ ]limit|too many requests|\b429\b|exceeded your current quota|resource has been exhausted|quota exceeded|resource_exhausted|usage limit|overloaded/,
  ],
  ["format", /string should match pattern|tool_use\.id|tool_use_id|invalid request format/],
  ["billing", /\b402\b|payment required|insufficient credits|credit balance|plans & billing/],
  ["timeout", /timeout|timed out|deadline exceeded/],
  [
    "auth",
    /invalid[_ ]?api[_ ]?key|incorrect api key|invalid token|authentication|re-authenticate|oauth token refresh failed|unauthorized|forbidden|access denied|expired|token has expired|\b401\b|\b403\b|no credentials found|no api key found/,
  ],
];

/** What the Claude CLI prints when only a new login helps (claude-cli.md §8). */
const NEEDS_LOGIN =
  /invalid_grant|revoked|\/login|log in again|not logged in|login expired|reached its time limit|claude auth login/;

export function classifyFailure(text: string): FailureReason {
  const lower = text.toLowerCase();
  return PATTERNS.find(([, pattern]) => pattern.test(lower))?.[0] ?? "unknown";
}

export function failureFromOutput(text: string, message: string): Failure {
  const reason = classifyFailure(text);
  const needsLogin = reason === "auth" || (reason === "unknown" && NEEDS_LOGIN.test(text.toLowerCase()));
  return { reason: needsLogin ? "auth" : reason, needsLogin, message };
}

/** The gateway's ladder: 1, 5, 25, then 60 minutes, by the total error count. */
export function cooldownMs(errorCount: number): number {
  return Math.min(HOUR, 60_000 * 5 ** Math.min(Math.max(1, errorCount) - 1, 3));
}

/** The gateway's billing disable: 5 h doubling to 24 h by default. */
export function billingDisableMs(billingCount: number, config: CooldownConfig): number {
  return Math.min(config.billingMaxMs, Math.max(60_000, config.billingBackoffMs) * 2 ** Math.min(billingCount - 1, 10));
}

/** A positive finite timestamp or count, as the gateway counts them; anything else is absent. */
export function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

export function isMarked(stats: ProfileUsageStats | undefined, now: number): boolean {
  return now < Math.max(finite(stats?.cooldownUntil) ?? 0, finite(stats?.disabledUntil) ?? 0);
}

/** How the failure is seen: a new event (a refresh that just failed), or the same problem seen again. */
export type Occurrence = "new" | "ongoing";

/**
 * The stats after a failure, following `markAuthProfileFailure`: counters reset after the failure window,
 * then count this failure, then a cooldown by the ladder, or a disable for billing and for dead logins.
 * An ongoing problem is only re-marked once its marking has (nearly) run out, so it escalates at the
 * gateway's pace instead of once per check.
 */
export function markFailure(
  stats: ProfileUsageStats,
  failure: Failure,
  now: number,
  occurrence: Occurrence,
  config: CooldownConfig,
): ProfileUsageStats {
  const disabledFor = (finite(stats.disabledUntil) ?? 0) - now;
  const loginIncident = stats.disabledReason === "auth" && disabledFor > 0;
  if (failure.needsLogin) {
    if (loginIncident && disabledFor > NEEDS_LOGIN_DISABLE_MS / 2) return stats;
    // Extending a disable that is already there is the same incident, not a new failure.
    const counted = loginIncident ? stats : countFailure(stats, "auth", now, config);
    return { ...counted, disabledUntil: now + NEEDS_LOGIN_DISABLE_MS, disabledReason: "auth" };
  }
  if (occurrence === "ongoing" && isMarked(stats, now)) return stats;
  const counted = countFailure(stats, failure.reason, now, config);
  if (failure.reason === "billing") {
    return {
      ...counted,
      disabledUntil: now + billingDisableMs(counted.failureCounts?.billing ?? 1, config),
      disabledReason: "billing",
    };
  }
  return { ...counted, cooldownUntil: now + cooldownMs(counted.errorCount ?? 1) };
}

function countFailure(
  stats: ProfileUsageStats,
  reason: FailureReason,
  now: number,
  config: CooldownConfig,
): ProfileUsageStats {
  const last = finite(stats.lastFailureAt);
  const expired = last !== undefined && now - last > config.failureWindowMs;
  const errorCount = (expired ? 0 : (stats.errorCount ?? 0)) + 1;
  const failureCounts = {
    ...(expired ? {} : stats.failureCounts),
    [reason]: ((expired ? 0 : stats.failureCounts?.[reason]) ?? 0) + 1,
  };
  return { ...stats, errorCount, failureCounts, lastFailureAt: now };
}

/** Disables a fresh credential cures; auth_permanent and session_expired are the SQLite era's names for them. */
const CREDENTIAL_DISABLES: ReadonlySet<string> = new Set(["auth", "auth_permanent", "session_expired"]);
const CREDENTIAL_REASONS: ReadonlySet<string> = new Set([...CREDENTIAL_DISABLES, "timeout", "unknown", "format"]);

/** Markings that a fresh credential cures. Rate limits and billing belong to the account, not the token. */
export function isCredentialMarking(stats: ProfileUsageStats | undefined): boolean {
  if (!stats) return false;
  if (CREDENTIAL_DISABLES.has(stats.disabledReason ?? "")) return true;
  if (stats.disabledReason === "billing") return false;
  const reasons = Object.keys(stats.failureCounts ?? {}).filter((r) => (stats.failureCounts?.[r] ?? 0) > 0);
  if (reasons.length === 0) return stats.cooldownUntil !== undefined;
  return reasons.some((r) => CREDENTIAL_REASONS.has(r));
}

/** Clears what `markFailure` sets; keeps `lastUsed` (the gateway's) and `lastFailureAt` (history). */
export function clearMarking(stats: ProfileUsageStats): ProfileUsageStats {
  const {
    cooldownUntil: _c,
    disabledUntil: _d,
    disabledReason: _r,
    failureCounts: _f,
    errorCount: _e,
    ...rest
  } = stats;
  return rest;
}

export type UsageOutcome =
  { result: "marked" | "cleared" } | { result: "unchanged" } | { result: "skipped"; reason: string };

/** Applies `change` to our profile's stats; never creates a profile just to mark it. */
export function updateUsage(
  store: AuthProfileStore,
  profileId: string,
  change: (stats: ProfileUsageStats) => ProfileUsageStats,
  result: "marked" | "cleared",
): { next: AuthProfileStore; outcome: UsageOutcome } {
  if (!store.profiles[profileId])
    return { next: store, outcome: { result: "skipped", reason: `no ${profileId} profile` } };
  const current = store.usageStats?.[profileId] ?? {};
  const updated = change(current);
  if (isDeepStrictEqual(updated, current)) return { next: store, outcome: { result: "unchanged" } };
  return { next: { ...store, usageStats: { ...store.usageStats, [profileId]: updated } }, outcome: { result } };
}

/** `auth.cooldowns` from the gateway config; values that are not positive finite numbers fall back, as in the gateway. */
export function cooldownConfigFrom(gatewayConfig: Record<string, unknown> | undefined): CooldownConfig {
  const raw = ((gatewayConfig?.auth as { cooldowns?: unknown } | undefined)?.cooldowns ?? {}) as Record<
    string,
    unknown
  >;
  const byProvider = (raw.billingBackoffHoursByProvider ?? {}) as Record<string, unknown>;
  const hours = (value: unknown, fallback: number) =>
    typeof value === "number" && Number.isFinite(value) && value > 0 ? value * HOUR : fallback;
  return {
    billingBackoffMs: hours(
      byProvider.anthropic,
      hours(raw.billingBackoffHours, DEFAULT_COOLDOWN_CONFIG.billingBackoffMs),
    ),
    billingMaxMs: hours(raw.billingMaxHours, DEFAULT_COOLDOWN_CONFIG.billingMaxMs),
    failureWindowMs: hours(raw.failureWindowHours, DEFAULT_COOLDOWN_CONFIG.failureWindowMs),
  };
}
