/**
 * The daemon's named timers: setting a name again replaces its timer, so a debounce or a retry is pending
 * at most once; after `stop` nothing new is armed.
 */
import { type Clock, type TimerHandle, timerDelay } from "./clock.js";

export class Timers {
  private readonly pending = new Map<string, TimerHandle>();
  private stopped = false;

  constructor(private readonly clock: Clock) {}

  set(name: string, delayMs: number, fn: () => void): void {
    if (this.stopped) return;
    this.clear(name);
    const run = () => {
      this.pending.delete(name);
      fn();
    };
    this.pending.set(name, this.clock.setTimeout(run, timerDelay(delayMs)));
  }

  /** The same timers under names of one login's own, so two logins' refresh timers never replace each other. */
  scoped(prefix: string): Pick<Timers, "set"> {
    if (!prefix) return this;
    return { set: (name, delayMs, fn) => this.set(`${prefix}:${name}`, delayMs, fn) };
  }

  private clear(name: string): void {
    if (!this.pending.has(name)) return;
    this.clock.clearTimeout(this.pending.get(name));
    this.pending.delete(name);
  }

  stop(): void {
    this.stopped = true;
    for (const handle of this.pending.values()) this.clock.clearTimeout(handle);
    this.pending.clear();
  }
}
