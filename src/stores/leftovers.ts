/**
 * What a killed run of ours left in the stores, cleared (or, for the gateway's own locks, named) for every
 * generation at once: a gateway upgraded since may have changed the generation the run wrote under.
 */
import { declared } from "./adapter-for.js";
import type { Check } from "./check.js";

/** Removes the store locks the lock journal notes whose holder died; the locks removed. */
export async function recoverLeftLocks(journal: string): Promise<string[]> {
  const removed: string[] = [];
  for (const locks of declared((g) => g.leftovers.locks)) removed.push(...(await locks(journal)));
  return removed;
}

/** Removes the temp files a killed writer of ours left in an agent dir; their names. */
export async function removeLeftTempFiles(agentDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const tempFiles of declared((g) => g.leftovers.tempFiles)) removed.push(...(await tempFiles(agentDir)));
  return removed;
}

/** `doctor`'s warnings for the store locks in an agent dir that are past the gateway's stale time. */
export async function staleStoreLocks(agentDir: string, now: number): Promise<Check[]> {
  const checks: Check[] = [];
  for (const staleLocks of declared((g) => g.leftovers.staleLocks)) checks.push(...(await staleLocks(agentDir, now)));
  return checks;
}
