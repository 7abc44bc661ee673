/**
 * What every store lock is to the transaction (../transaction.ts): one try at a time, and the same wait between
 * tries (core/backoff.ts) until the lock timeout. A held lock can say whether it is still ours, so a write is
 * abandoned instead of made after another process took the lock over; a lock a crash of ours would leave
 * behind (a directory, which nobody removes until it turns stale) notes itself in the journal while held.
 */
import { type BackoffPolicy, backoffDelay } from "../../core/backoff.js";
import type { StoreError } from "../../core/errors.js";
import { retry } from "../../core/retry.js";

export interface HeldLock {
  /** Why the lock is no longer ours (taken over as stale, its file replaced), or undefined while it holds. */
  lost(): Promise<string | undefined>;
  release(): Promise<void>;
}

/** Another holder has the lock now: the error to give if it still has it when the lock timeout has passed. */
export interface Busy {
  busy: StoreError;
}

export interface StoreLock<H extends HeldLock> {
  /**
   * One try: the lock, or `Busy`; any other failure throws. A kind of lock a crash of ours would leave behind
   * notes itself in `journal` (journal.ts) from the moment it exists until just before it is removed.
   */
  tryLock(journal?: string): Promise<H | Busy>;
  retry: BackoffPolicy;
  timeoutMs: number;
  /** For an error inside the lock that means "try the whole step again" (SQLite busy): the error to give at timeout. */
  retryable?(err: unknown): StoreError | undefined;
}

export const isBusy = (result: HeldLock | Busy): result is Busy => "busy" in result;

/** A failure of one try that is worth the next: the lock was busy, or `fn` failed in a way the lock retries. */
class TryAgain extends Error {
  constructor(readonly failure: StoreError) {
    super(failure.message);
  }
}

/** Runs `fn` holding `lock`, trying until the lock's timeout; with a `journal`, the lock is noted there while held. */
export async function withLock<H extends HeldLock, T>(
  lock: StoreLock<H>,
  fn: (held: H) => Promise<T>,
  journal?: string,
): Promise<T> {
  const once = async (): Promise<T> => {
    const held = await lock.tryLock(journal);
    if (isBusy(held)) throw new TryAgain(held.busy);
    try {
      return await fn(held);
    } catch (err) {
      const failure = lock.retryable?.(err);
      throw failure ? new TryAgain(failure) : err;
    } finally {
      await held.release().catch(() => undefined);
    }
  };
  try {
    return await retry(once, {
      retryable: (err) => err instanceof TryAgain,
      delayMs: (attempt) => backoffDelay(attempt, lock.retry),
      timeoutMs: lock.timeoutMs,
    });
  } catch (err) {
    throw err instanceof TryAgain ? err.failure : err;
  }
}
