/** The pure store change for a marking: our profile's `usageStats` entry, changed by one generation's rules. */
import { isDeepStrictEqual } from "node:util";
import { PENDING_FENCE, isPendingFence } from "./fence.js";
import type { AuthProfileStore, ProfileUsageStats } from "../types.js";

/** Why a change of the stats was skipped, for callers that act on it (`reason` is for people). */
export type SkipCode = "no-profile" | "pending-fence" | "refused" | "not-ours";

export type UsageOutcome =
  { result: "marked" | "cleared" } | { result: "unchanged" } | { result: "skipped"; reason: string; code: SkipCode };

/**
 * Applies `change` to our profile's stats; never creates a profile just to mark it, and never touches a profile
 * the gateway is refreshing: its refresh settles the stats itself.
 */
export function updateUsage(
  store: AuthProfileStore,
  profileId: string,
  change: (stats: ProfileUsageStats) => ProfileUsageStats,
  result: "marked" | "cleared",
): { next: AuthProfileStore; outcome: UsageOutcome } {
  if (!store.profiles[profileId])
    return { next: store, outcome: { result: "skipped", reason: `no ${profileId} profile`, code: "no-profile" } };
  if (isPendingFence(store.profiles[profileId]))
    return { next: store, outcome: { result: "skipped", reason: PENDING_FENCE, code: "pending-fence" } };
  const current = store.usageStats?.[profileId] ?? {};
  const updated = change(current);
  if (isDeepStrictEqual(updated, current)) return { next: store, outcome: { result: "unchanged" } };
  return { next: { ...store, usageStats: { ...store.usageStats, [profileId]: updated } }, outcome: { result } };
}
