/**
 * The one retry loop: a try, and while its failure is worth another and the tries or the time allow, a wait and
 * the next. What counts as worth another try, and how long to wait, is the caller's; the loop never decides.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface RetryOptions {
  /** Whether the failure of try `attempt` (from 1) is worth another; any other failure is thrown at once. */
  retryable(err: unknown, attempt: number): boolean;
  /** The wait after the failed try `attempt`. */
  delayMs(attempt: number): number;
  /** At most this many tries (default: no limit). */
  attempts?: number;
  /** No try starts once this long has passed since the first (default: no limit). */
  timeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}

/** Runs `fn` until it succeeds; the last retryable failure is thrown when no try is left. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!options.retryable(err, attempt)) throw err;
      if (attempt >= (options.attempts ?? Infinity)) throw err;
      if (now() - started >= (options.timeoutMs ?? Infinity)) throw err;
    }
    await wait(options.delayMs(attempt));
  }
}
