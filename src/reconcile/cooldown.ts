/**
 * Cooldowns the gateway honours, as one interface over every generation's rules: the JSON eras'
 * (cooldown-json.ts) and the SQLite era's (cooldown-sqlite.ts), each data plus pure functions over one
 * `usageStats` entry. Each store adapter names its generation's rules; nothing asks which era it is in. Beside
 * them: the gateway config's `auth.cooldowns` (cooldownConfigFrom), which markings a fresh credential cures
 * (isCredentialMarking), and which marking `cooldown clear` leaves unless forced (clearRefusal).
 */
import type { Failure } from "./failure.js";
import type { ProfileUsageStats } from "../types.js";
import { HOUR } from "../core/duration.js";

/** The gateway config's `auth.cooldowns` (cooldownConfigFrom). */
export interface CooldownConfig {
  billingBackoffMs: number;
  billingMaxMs: number;
  failureWindowMs: number;
}

export const DEFAULT_COOLDOWN_CONFIG: CooldownConfig = {
  billingBackoffMs: 5 * HOUR,
  billingMaxMs: 24 * HOUR,
  failureWindowMs: 24 * HOUR,
};

/**
 * `auth.cooldowns` from the gateway config; values that are not positive finite numbers fall back, as in the
 * gateway.
 */
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

/**
 * Why `cooldown clear` leaves a marking unless forced: a disabled login is not a stuck cooldown, and clearing it
 * only makes the gateway fail on it again.
 */
export function clearRefusal(stats: ProfileUsageStats, now: number): string | undefined {
  if (typeof stats.disabledUntil !== "number" || stats.disabledUntil <= now) return undefined;
  const why =
    stats.disabledReason === "auth"
      ? "the login needs a person: run `claude` and then /login (or `claude auth login`)"
      : `it was disabled for ${stats.disabledReason ?? "an unknown reason"}`;
  return `disabled, not cleared: ${why}; --force clears it anyway`;
}

/** How the failure is seen: a new event (a refresh that just failed), or the same problem seen again. */
export type Occurrence = "new" | "ongoing";

/** An active cooldown or disable, as `status` lists it. */
export interface Marking {
  profile: string;
  kind: "cooldown" | "disabled";
  reason?: string;
  /** The SQLite era's `cooldownClassification`, as `openclaw models status --json` lists it. */
  classification?: string;
  until: number;
}

/** One generation's cooldown rules. */
export interface UsageRules {
  markFailure: (
    stats: ProfileUsageStats,
    failure: Failure,
    now: number,
    occurrence: Occurrence,
    config: CooldownConfig,
  ) => ProfileUsageStats;
  /** What `cooldown clear` and recovery remove. */
  clearMarking: (stats: ProfileUsageStats) => ProfileUsageStats;
  isMarked: (stats: ProfileUsageStats | undefined, now: number) => boolean;
  /** When the profile is usable again, by this generation's fields (it may be in the past). */
  unusableUntil: (stats: ProfileUsageStats | undefined) => number | undefined;
  /** Every profile's active marking, soonest first, as this generation's `models status` lists them. */
  markings: (usageStats: Record<string, ProfileUsageStats> | undefined, now: number) => Marking[];
}

/** A positive finite timestamp or count, as the gateway counts them; anything else is absent. */
export function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Disables a fresh credential cures; auth_permanent and session_expired are the SQLite era's names for them. */
const CREDENTIAL_DISABLES: ReadonlySet<string> = new Set(["auth", "auth_permanent", "session_expired"]);
const CREDENTIAL_REASONS: ReadonlySet<string> = new Set([...CREDENTIAL_DISABLES, "timeout", "unknown", "format"]);

/**
 * Markings that a fresh credential cures, in either generation's words. Rate limits and billing belong to the
 * account, not the token.
 */
export function isCredentialMarking(stats: ProfileUsageStats | undefined): boolean {
  if (!stats) return false;
  if (CREDENTIAL_DISABLES.has(stats.disabledReason ?? "")) return true;
  if (stats.disabledReason === "billing") return false;
  const reasons = Object.keys(stats.failureCounts ?? {}).filter((r) => (stats.failureCounts?.[r] ?? 0) > 0);
  if (reasons.length === 0) return stats.cooldownUntil !== undefined;
  return reasons.some((r) => CREDENTIAL_REASONS.has(r));
}
