/**
 * The gateway's store lock: proper-lockfile on `auth-profiles.json`, i.e. a `<realpath>.lock` directory
 * whose mtime the holder refreshes. `stale` must equal the gateway's (moltbot-store.md §8) or the two
 * would disagree about when a lock is abandoned; only the retry count is ours to choose.
 */
import lockfile from "proper-lockfile";
import { StoreError, errnoCode, messageOf } from "../errors.js";

export const GATEWAY_LOCK_STALE_MS = 30_000;

export function gatewayLockOptions(retries: number): lockfile.LockOptions {
  return {
    stale: GATEWAY_LOCK_STALE_MS,
    retries: { retries, factor: 2, minTimeout: 100, maxTimeout: 10_000, randomize: true },
  };
}

/**
 * Runs `fn` holding the lock on `file`, which must exist. If the lock is compromised (another process
 * took it over as stale), the write in flight is abandoned instead of crashing the daemon.
 */
export async function withStoreLock<T>(file: string, retries: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const compromised = new AbortController();
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, {
      ...gatewayLockOptions(retries),
      onCompromised: (err) => compromised.abort(err),
    });
  } catch (err) {
    if (errnoCode(err) === "ELOCKED") throw new StoreError(`${file} is locked by another process (gave up after ${retries} retries)`, "locked");
    throw new StoreError(`${file} cannot be locked: ${messageOf(err)}`, "unwritable");
  }
  try {
    return await fn(compromised.signal);
  } finally {
    await release().catch(() => undefined);
  }
}
