/**
 * What a killed run of ours left in the stores, cleared (or, for the gateway's own locks, named) for every
 * generation at once: a gateway upgraded since may have changed the generation the run wrote under.
 */
import { declared } from "./adapter-for.js";
import type { Leftovers } from "./adapter.js";

/** One kind of leftover handling of every generation (each function once), one after another; all it found. */
async function everyGeneration<A extends unknown[], T>(
  pick: (leftovers: Leftovers) => ((...args: A) => Promise<T[]>) | undefined,
  ...args: A
): Promise<T[]> {
  const found: T[] = [];
  for (const handle of declared((g) => pick(g.leftovers))) found.push(...(await handle(...args)));
  return found;
}

/** Removes the store locks the lock journal notes whose holder died; the locks removed. */
export const recoverLeftLocks = (journal: string) => everyGeneration((l) => l.locks, journal);

/** Removes the temp files a killed writer of ours left in an agent dir; their names. */
export const removeLeftTempFiles = (agentDir: string) => everyGeneration((l) => l.tempFiles, agentDir);

/** `doctor`'s warnings for the store locks in an agent dir that are past the gateway's stale time. */
export const staleStoreLocks = (agentDir: string, now: number) => everyGeneration((l) => l.staleLocks, agentDir, now);
