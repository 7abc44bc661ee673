/**
 * The daemon's time: what it reads the time from and how it waits. Injected, so the scheduling rules run
 * under a fake clock in unit tests instead of real waiting.
 */
export type TimerHandle = unknown;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** setTimeout's limit (about 24.8 days): a longer wait is clamped to it, and re-armed when the timer fires early. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay setTimeout takes as given: not negative, not past its limit. */
export const timerDelay = (delayMs: number) => Math.max(0, Math.min(delayMs, MAX_TIMER_MS));

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};
