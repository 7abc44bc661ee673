/**
 * The one backoff every retry loop uses: capped exponential, with jitter (±20 % unless a policy says
 * otherwise), so retries never hot-loop and never synchronise.
 */
export interface BackoffPolicy {
  /** The first delay (attempt 1). */
  baseMs: number;
  capMs: number;
  /** How far a delay may stray either side, as a fraction of it. */
  jitter?: number;
}

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exact = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jitter = policy.jitter ?? 0.2;
  return Math.round(exact * (1 - jitter + 2 * jitter * random()));
}
