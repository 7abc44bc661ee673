/**
 * The JSON eras' cooldown rules (docs/daemon.md, outage and recovery), as data and pure functions over one `usageStats`
 * entry. The gateway skips a profile while `now < max(cooldownUntil, disabledUntil)`; writing its own fields
 * with its own ladder keeps its later failures and successes consistent with ours.
 */
import { type CooldownConfig, type Marking, type Occurrence, type UsageRules, finite } from "./cooldown.js";
import type { Failure, FailureReason } from "./failure.js";
import { HOUR, MINUTE } from "../core/duration.js";
import type { ProfileUsageStats } from "../types.js";

/** The gateway's ladder: 1, 5, 25, then 60 minutes, by the total error count. */
export const JSON_ERA_LADDER = { baseMs: MINUTE, factor: 5, maxMs: HOUR } as const;

/**
 * A dead login stays disabled this long, and is extended whenever less than half of it is left while the
 * problem lasts: the gateway keeps failing over instead of retrying it every few minutes.
 */
export const NEEDS_LOGIN_DISABLE_MS = HOUR;

export function cooldownMs(errorCount: number): number {
  const { baseMs, factor, maxMs } = JSON_ERA_LADDER;
  return Math.min(maxMs, baseMs * factor ** Math.min(Math.max(1, errorCount) - 1, 3));
}

/** The gateway's billing disable: 5 h doubling to 24 h by default. */
export function billingDisableMs(billingCount: number, config: CooldownConfig): number {
  return Math.min(config.billingMaxMs, Math.max(MINUTE, config.billingBackoffMs) * 2 ** Math.min(billingCount - 1, 10));
}

export function unusableUntil(stats: ProfileUsageStats | undefined): number | undefined {
  const values = [finite(stats?.cooldownUntil), finite(stats?.disabledUntil)].filter((v) => v !== undefined);
  return values.length ? Math.max(...values) : undefined;
}

export function isMarked(stats: ProfileUsageStats | undefined, now: number): boolean {
  return now < (unusableUntil(stats) ?? 0);
}

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

/** The gateway's rule: a profile is unusable while now < max(cooldownUntil, disabledUntil). */
export function markings(usageStats: Record<string, ProfileUsageStats> | undefined, now: number): Marking[] {
  const found: Marking[] = [];
  for (const [profile, stats] of Object.entries(usageStats ?? {})) {
    if (typeof stats !== "object" || stats === null) continue;
    const disabled = finite(stats.disabledUntil);
    const cooldown = finite(stats.cooldownUntil);
    if (disabled !== undefined && now < disabled) {
      found.push({
        profile,
        kind: "disabled",
        until: disabled,
        ...(typeof stats.disabledReason === "string" ? { reason: stats.disabledReason } : {}),
      });
    } else if (cooldown !== undefined && now < cooldown) {
      // The gateway records no reason with a cooldown; the failures it counted are the reason.
      const counts = stats.failureCounts && typeof stats.failureCounts === "object" ? stats.failureCounts : {};
      const reasons = Object.keys(counts).filter((r) => (finite(counts[r]) ?? 0) > 0);
      const reason = reasons.length ? { reason: reasons.join("+") } : {};
      found.push({ profile, kind: "cooldown", until: cooldown, ...reason });
    }
  }
  return found.sort((a, b) => a.until - b.until);
}

export const jsonUsageRules: UsageRules = { markFailure, clearMarking, isMarked, unusableUntil, markings };
