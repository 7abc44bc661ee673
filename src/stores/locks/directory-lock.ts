/**
 * The gateway's store lock: proper-lockfile on `auth-profiles.json`, i.e. a `<realpath>.lock` directory
 * whose mtime the holder refreshes. `stale` must equal the gateway's (moltbot-store.md §8) or the two
 * would disagree about when a lock is abandoned; only the retry count is ours to choose.
 */
import { realpath } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import lockfile from "proper-lockfile";
import { backoffDelay } from "../../core/backoff.js";
import { formatDuration } from "../../core/duration.js";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { noteLock } from "./journal.js";

export const GATEWAY_LOCK_STALE_MS = 30_000;

/**
 * How long to wait between tries for a held lock: 100 ms doubling to 1 s. The gateway's own schedule grows to
 * 10 s, which would take a lock left by a dead holder up to 10 s after it turned stale; ours takes it within
 * a second of that.
 */
export function lockRetryDelay(attempt: number): number {
  return backoffDelay(attempt + 1, { baseMs: 100, capMs: 1_000, jitter: 0.25 });
}

/**
 * Runs `fn` holding the lock on `file`, which must exist. If the lock is compromised (another process
 * took it over as stale), the write in flight is abandoned instead of crashing the daemon. With a
 * `journal`, the lock is noted there while held, so a crash of ours cannot leave it blocking (journal.ts).
 */
export async function withStoreLock<T>(
  file: string,
  timeoutMs: number,
  journal: string | undefined,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const compromised = new AbortController();
  // Resolved before locking, so that the moment between taking the lock and noting it stays as short as can be.
  const lockDir = `${await realpath(file).catch(() => file)}.lock`;
  const started = Date.now();
  let release: () => Promise<void>;
  for (let attempt = 0; ; attempt++) {
    try {
      release = await lockfile.lock(file, {
        stale: GATEWAY_LOCK_STALE_MS,
        retries: 0,
        onCompromised: (err) => compromised.abort(err),
      });
      break;
    } catch (err) {
      if (errnoCode(err) !== "ELOCKED")
        throw new StoreError(`${file} cannot be locked: ${messageOf(err)}`, "unwritable");
      if (Date.now() - started >= timeoutMs)
        throw new StoreError(
          `${file} is locked by another process (gave up after ${formatDuration(timeoutMs)})`,
          "locked",
        );
      await sleep(lockRetryDelay(attempt));
    }
  }
  const forget = journal ? await noteLock(journal, lockDir).catch(() => undefined) : undefined;
  try {
    return await fn(compromised.signal);
  } finally {
    await release().catch(() => undefined);
    await forget?.().catch(() => undefined);
  }
}
