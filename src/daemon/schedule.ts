/**
 * A cron schedule of the daemon (`resyncCron`, `refreshCheckCron`): one timer, to the next time the
 * expression matches (core/cron.ts), armed again after each tick. An expression only node-cron understands
 * (its `L`, `W`, `#` extensions) is run by node-cron, loaded for it alone.
 */
import { createRequire } from "node:module";
import { nextCronTime, parseCron } from "../core/cron.js";
import { type Clock, type TimerHandle, timerDelay } from "./clock.js";

export interface Schedule {
  stop(): void;
}

export function startSchedule(expr: string, tick: () => void, clock: Clock): Schedule {
  const spec = parseCron(expr);
  if (!spec) return nodeCronSchedule(expr, tick);
  let handle: TimerHandle;
  let stopped = false;
  const arm = () => {
    const next = nextCronTime(spec, new Date(clock.now()));
    if (stopped || !next) return;
    const at = next.getTime();
    handle = clock.setTimeout(
      () => {
        // Early only when the wait was capped, or the clock was set back: not the tick yet.
        if (clock.now() >= at) tick();
        arm();
      },
      // A tick beyond setTimeout's limit is waited for in steps.
      timerDelay(at - clock.now()),
    );
  };
  arm();
  return {
    stop: () => {
      stopped = true;
      clock.clearTimeout(handle);
    },
  };
}

function nodeCronSchedule(expr: string, tick: () => void): Schedule {
  const { schedule } = createRequire(import.meta.url)("node-cron") as typeof import("node-cron");
  const task = schedule(expr, tick, { noOverlap: true });
  return { stop: () => void task.destroy() };
}
