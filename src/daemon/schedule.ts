/**
 * A cron schedule of the daemon (`resyncCron`, `refreshCheckCron`), run by node-cron in local time; config.ts
 * validates the expressions with node-cron's own `validate`, so what is accepted is what runs.
 */
import { schedule } from "node-cron";

export interface Schedule {
  stop(): void;
}

export function startSchedule(expr: string, tick: () => void): Schedule {
  const task = schedule(expr, () => void tick(), {
    // After a suspend or a stalled event loop the latest time passed still ticks, once (node-cron would drop a tick
    // more than a second late); the ones it overtook are dropped silently, since one tick catches up on them all.
    missedExecutionTolerance: Infinity,
    suppressMissedWarning: true,
  });
  return { stop: () => void task.destroy() };
}
