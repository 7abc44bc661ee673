/**
 * The daemon's cron schedules (src/core/cron.ts, src/daemon/schedule.ts): the forms they read, the next time
 * each matches (checked against node-cron itself, which they replace for those forms), and the ticks a
 * schedule makes under a fake clock.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { schedule } from "node-cron";
import { isCronExpression, nextCronTime, parseCron } from "../src/core/cron.js";
import { startSchedule } from "../src/daemon/schedule.js";
import type { Clock } from "../src/daemon/clock.js";

const next = (expr: string, after: Date) => nextCronTime(parseCron(expr)!, after);
// Local times, so the test means the same in every time zone.
const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s);

test("cron: the forms read here; node-cron's extensions are valid through node-cron; garbage is not", () => {
  for (const expr of ["* * * * *", "*/5 * * * *", "0 3 * * mon-fri", "30 */2 1,15 jan,JUL sunday", "*/10 * * * * *"]) {
    assert.ok(parseCron(expr), expr);
    assert.ok(isCronExpression(expr), expr);
  }
  assert.equal(parseCron("0 0 L * *"), undefined);
  assert.equal(isCronExpression("0 0 L * *"), true, "the last day of the month, as node-cron reads it");
  assert.equal(parseCron("5-1 * * * *"), undefined);
  assert.equal(isCronExpression("5-1 * * * *"), true, "a range backwards, which node-cron takes: left to it");
  for (const expr of ["every day", "61 * * * *", "* * * *", "*/0 * * * *", "0 0 32 * *", "0 0 * * 8"]) {
    assert.equal(isCronExpression(expr), false, expr);
  }
});

test("cron: the next time each expression matches", () => {
  const from = at(2026, 3, 7, 10, 7, 30); // a Saturday
  assert.deepEqual(next("* * * * *", from), at(2026, 3, 7, 10, 8));
  assert.deepEqual(next("*/5 * * * *", from), at(2026, 3, 7, 10, 10));
  assert.deepEqual(next("*/10 * * * * *", from), at(2026, 3, 7, 10, 7, 40));
  assert.deepEqual(next("0 3 * * mon-fri", from), at(2026, 3, 9, 3));
  assert.deepEqual(next("0 0 * * 7", from), at(2026, 3, 8), "7 is Sunday");
  assert.deepEqual(next("5 10 7 3 *", from), at(2027, 3, 7, 10, 5), "today's time has passed: next year");
  assert.deepEqual(next("15 10 7 3 *", from), at(2026, 3, 7, 10, 15), "later today");
  assert.deepEqual(next("0 0 29 2 *", from), at(2028, 2, 29));
  assert.equal(next("0 0 31 2 *", from), undefined, "a date that never comes");
  assert.deepEqual(next("* * * * *", at(2026, 12, 31, 23, 59, 59)), at(2027, 1, 1, 0, 0), "over the year's end");
});

test("cron: the same next time as node-cron, for the forms read here", () => {
  const forms = ["* * * * *", "*/5 * * * *", "7 */3 * * *", "0 9-17/2 * * 1-5", "30 4 1,15 * *", "0 0 * jan,jun sun"];
  for (const expr of forms) {
    const task = schedule(expr, () => undefined);
    for (let tries = 0; ; tries++) {
      const before = Date.now();
      const theirs = task.getNextRun();
      const ours = nextCronTime(parseCron(expr)!, new Date(before));
      // A second that turned between the two readings is read again.
      if (Math.floor(Date.now() / 1000) !== Math.floor(before / 1000) && tries < 3) continue;
      assert.equal(ours?.getTime(), theirs?.getTime(), expr);
      break;
    }
    void task.destroy();
  }
});

test("schedule: ticks at each match under a fake clock, waits in steps for a far one, and stops", () => {
  let now = at(2026, 3, 7, 10, 7, 30).getTime();
  const timers: Array<{ due: number; fn: () => void }> = [];
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, delayMs) => {
      const timer = { due: now + delayMs, fn };
      timers.push(timer);
      return timer;
    },
    clearTimeout: (handle) => void timers.splice(timers.indexOf(handle as (typeof timers)[0]) >>> 0, 1),
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      timers.sort((a, b) => a.due - b.due);
      const due = timers[0];
      if (!due || due.due > until) break;
      timers.shift();
      now = due.due;
      due.fn();
    }
    now = until;
  };
  const ticks: number[] = [];
  const schedule = startSchedule("*/5 * * * *", () => ticks.push(now), clock);
  advance(16 * 60_000);
  assert.deepEqual(ticks, [at(2026, 3, 7, 10, 10), at(2026, 3, 7, 10, 15), at(2026, 3, 7, 10, 20)].map(Number));
  schedule.stop();
  advance(60 * 60_000);
  assert.equal(ticks.length, 3, "nothing after stop");
  assert.equal(timers.length, 0);
  const yearly: number[] = [];
  const far = startSchedule("0 0 1 1 *", () => yearly.push(now), clock);
  advance(366 * 24 * 3_600_000);
  assert.deepEqual(yearly, [at(2027, 1, 1).getTime()], "a tick beyond setTimeout's limit, waited for in steps");
  far.stop();
});
