/**
 * This generation's cooldown rules, as data and pure functions over one `usageStats` entry, following
 * openclaw@2026.9.6 (`computeNextProfileUsageStats`, `resolveProfileUnusableUntil`,
 * `resetAuthProfileFailureState`). Writing the gateway's own fields with its own ladder keeps its later
 * failures and successes consistent with ours.
 */
import { type Marking, type Occurrence, type UsageRules, finite } from "./cooldown.js";
import type { Failure } from "./failure.js";
import { HOUR, MINUTE, SECOND } from "../core/duration.js";
import type { ProfileUsageStats } from "../types.js";

/** The gateway's constants (`AUTH_COOLDOWN_CONFIG`, `RATE_LIMIT_BACKOFF_*`); it reads no config for them. */
export const SQLITE_ERA_LADDER = {
  /** Generic cooldown by the aggregate error count: 1st, 2nd, 3rd and later. */
  generic: [30 * SECOND, 60 * SECOND, 300 * SECOND],
  rateLimit: { baseMs: 30 * SECOND, maxMs: 24 * HOUR },
  disabled: {
    billing: { baseMs: 10 * MINUTE, maxMs: 24 * HOUR },
    auth_permanent: { baseMs: 10 * MINUTE, maxMs: HOUR },
  },
  failureWindowMs: 24 * HOUR,
} as const;

/** The reasons this generation records (`AUTH_FAILURE_REASONS`). */
export type GatewayReason =
  | "auth"
  | "auth_permanent"
  | "format"
  | "overloaded"
  | "rate_limit"
  | "billing"
  | "timeout"
  | "model_not_found"
  | "session_expired"
  | "empty_response"
  | "no_error_details"
  | "unclassified"
  | "unknown";

/** When the profile becomes usable again: the latest of its block, cooldown and disable. */
export function unusableUntil(stats: ProfileUsageStats | undefined): number | undefined {
  const values = [stats?.blockedUntil, stats?.cooldownUntil, stats?.disabledUntil]
    .map(finite)
    .filter((v): v is number => v !== undefined);
  return values.length ? Math.max(...values) : undefined;
}

function isUnusable(stats: ProfileUsageStats | undefined, now: number): boolean {
  return now < (unusableUntil(stats) ?? 0);
}

function cappedBackoffMs(count: number, baseMs: number, maxMs: number): number {
  const exponent = Math.max(0, Math.ceil(Math.log2(maxMs / baseMs)));
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(1, count) - 1, exponent));
}

function genericCooldownMs(errorCount: number): number {
  const ladder = SQLITE_ERA_LADDER.generic;
  return ladder[Math.min(Math.max(1, errorCount), ladder.length) - 1]!;
}

/** The gateway's reason for one of our failures. A dead login only a person can fix is `auth_permanent`. */
function gatewayReason(failure: Failure): GatewayReason {
  if (failure.needsLogin) return "auth_permanent";
  return failure.reason;
}

const keepRunning = (existing: unknown, now: number, recomputed: number): number => {
  const until = finite(existing);
  return until !== undefined && until > now ? until : recomputed;
};

/** `computeNextProfileUsageStats` for a failure that names no model (ours never do). */
export function nextFailureStats(existing: ProfileUsageStats, reason: GatewayReason, now: number): ProfileUsageStats {
  const blocked = existing.blockedReason === "subscription_limit" && now < (finite(existing.blockedUntil) ?? 0);
  if (reason === "rate_limit" && blocked) return existing;
  const last = finite(existing.lastFailureAt);
  const windowExpired = last !== undefined && now - last > SQLITE_ERA_LADDER.failureWindowMs;
  const until = unusableUntil(existing);
  const reset = windowExpired || (until !== undefined && now >= until);
  const errorCount = (reset ? 0 : (finite(existing.errorCount) ?? 0)) + 1;
  const keptRateLimit = existing.failureCounts?.rate_limit;
  const kept: Record<string, number> = keptRateLimit ? { rate_limit: keptRateLimit } : {};
  const failureCounts: Record<string, number> = reset ? kept : { ...existing.failureCounts };
  failureCounts[reason] = (failureCounts[reason] ?? 0) + 1;
  const { cooldownClassification: _dropped, ...rest } = existing;
  const next: ProfileUsageStats = { ...rest, errorCount, failureCounts, lastFailureAt: now };
  if (reason === "billing" || reason === "auth_permanent") {
    const { baseMs, maxMs } = SQLITE_ERA_LADDER.disabled[reason];
    const backoff = cappedBackoffMs(failureCounts[reason], baseMs, maxMs);
    next.disabledUntil = keepRunning(existing.disabledUntil, now, now + backoff);
    next.disabledReason = reason;
    return next;
  }
  const { baseMs, maxMs } = SQLITE_ERA_LADDER.rateLimit;
  const backoff =
    reason === "rate_limit" ? cappedBackoffMs(failureCounts.rate_limit!, baseMs, maxMs) : genericCooldownMs(errorCount);
  next.cooldownUntil = keepRunning(existing.cooldownUntil, now, now + backoff);
  next.cooldownReason = reason;
  // A failure without a model (ours never name one) drops the model scope, as the gateway does.
  delete next.cooldownModel;
  return next;
}

/**
 * Our marking after a failure. An ongoing problem is re-marked only once its window has run out, so it
 * escalates at the gateway's pace instead of once per check.
 */
export function markFailure(
  stats: ProfileUsageStats,
  failure: Failure,
  now: number,
  occurrence: Occurrence,
): ProfileUsageStats {
  if (occurrence === "ongoing" && isUnusable(stats, now)) return stats;
  return nextFailureStats(stats, gatewayReason(failure), now);
}

/** What makes the gateway list a profile as unusable, cleared as its own success and manual reset clear it. */
const MARKING_FIELDS = [
  "blockedUntil",
  "blockedReason",
  "blockedSource",
  "blockedModel",
  "blockedScope",
  "cooldownUntil",
  "cooldownReason",
  "cooldownClassification",
  "cooldownModel",
  "disabledUntil",
  "disabledReason",
  "failureCounts",
] as const;

/** `resetAuthProfileFailureState` without the success bookkeeping (lastUsed, lastProbeAt stay as they were). */
export function clearMarking(stats: ProfileUsageStats): ProfileUsageStats {
  const next: ProfileUsageStats = { ...stats };
  for (const field of MARKING_FIELDS) delete next[field];
  const marked = Object.keys(stats).some((k) => (MARKING_FIELDS as readonly string[]).includes(k));
  if (next.errorCount !== undefined || marked) next.errorCount = 0;
  return next;
}

/**
 * `unusableProfiles` of `openclaw models status --json`: unusable until the latest of blockedUntil,
 * cooldownUntil and disabledUntil; "disabled" while the disable runs, otherwise "cooldown" with the cooldown's
 * reason, which a block alone does not have.
 */
export function markings(usageStats: Record<string, ProfileUsageStats> | undefined, now: number): Marking[] {
  const found: Marking[] = [];
  for (const [profile, stats] of Object.entries(usageStats ?? {})) {
    if (typeof stats !== "object" || stats === null) continue;
    const until = unusableUntil(stats);
    if (until === undefined || now >= until) continue;
    const disabled = now < (finite(stats.disabledUntil) ?? 0);
    const reason = disabled ? stats.disabledReason : stats.cooldownReason;
    const classification = disabled ? undefined : stats.cooldownClassification;
    found.push({
      profile,
      kind: disabled ? "disabled" : "cooldown",
      until,
      ...(typeof reason === "string" ? { reason } : {}),
      ...(typeof classification === "string" ? { classification } : {}),
    });
  }
  return found.sort((a, b) => a.until - b.until);
}

/** This generation reads no config for its ladder, so `markFailure` ignores the gateway config's cooldowns. */
export const sqliteUsageRules: UsageRules = {
  markFailure: (stats, failure, now, occurrence) => markFailure(stats, failure, now, occurrence),
  clearMarking,
  isMarked: isUnusable,
  unusableUntil,
  markings,
};
