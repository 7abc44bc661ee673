/**
 * The daemon's schedules (src/daemon/schedule.ts): node-cron itself, driven by node:test's mocked `Date` and
 * `setTimeout`, so every tick lands at a time the test sets and none depends on the machine's speed. And the
 * config accepts exactly what node-cron validates.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { validate } from "node-cron";
import { parseConfig } from "../../src/config/config.js";
import { startSchedule } from "../../src/daemon/schedule.js";

// Local times, so the test means the same in every time zone.
const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s).getTime();

/** The mocked time moves `ms` on, firing node-cron's timers on the way; then its task callbacks (promises) run. */
async function advance(t: TestContext, ms: number): Promise<void> {
  t.mock.timers.tick(ms);
  // setImmediate is not mocked: one real turn of the event loop lets the task's promise chain end.
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

test("schedule: ticks at each match, in local time, and not after stop", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: at(2026, 3, 7, 10, 7, 30) });
  const ticks: number[] = [];
  const schedule = startSchedule("*/5 * * * *", () => ticks.push(Date.now()));
  await advance(t, 30_000);
  for (let minute = 0; minute < 15; minute++) await advance(t, 60_000);
  assert.deepEqual(ticks, [at(2026, 3, 7, 10, 10), at(2026, 3, 7, 10, 15), at(2026, 3, 7, 10, 20)]);
  schedule.stop();
  await advance(t, 60 * 60_000);
  assert.equal(ticks.length, 3, "nothing after stop");
});

test("schedule: seconds, a far match waited for in steps, and a late wake ticks once", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: at(2026, 3, 7, 10, 7, 30) });
  const seconds: number[] = [];
  const everyTen = startSchedule("*/10 * * * * *", () => seconds.push(Date.now()));
  for (let i = 0; i < 3; i++) await advance(t, 10_000);
  assert.deepEqual(seconds, [at(2026, 3, 7, 10, 7, 40), at(2026, 3, 7, 10, 7, 50), at(2026, 3, 7, 10, 8)]);
  everyTen.stop();

  let yearly = 0;
  const far = startSchedule("0 0 1 1 *", () => yearly++);
  await advance(t, 300 * 86_400_000);
  assert.equal(yearly, 1, "1 January, past setTimeout's limit and node-cron's one-day step");
  far.stop();

  // As after a suspend: the timer fires an hour late. One tick, not twelve, and none lost.
  let resyncs = 0;
  const resync = startSchedule("*/5 * * * *", () => resyncs++);
  await advance(t, 3_600_000);
  assert.equal(resyncs, 1, "the latest time passed ticks once");
  await advance(t, 5 * 60_000);
  assert.equal(resyncs, 2, "then on schedule");
  resync.stop();
});

test("config: a cron key accepts exactly what node-cron validates", () => {
  const valid = ["* * * * *", "*/10 * * * * *", "0 3 * * mon-fri", "30 */2 1,15 jan,JUL sunday", "0 0 L * *"];
  const invalid = ["every day", "61 * * * *", "* * * *", "0 0 32 * *", "0 0 * * 8", "* * * * * * *"];
  for (const expr of [...valid, ...invalid]) {
    const accepted = (() => {
      try {
        parseConfig({ resyncCron: expr, refreshCheckCron: expr }, "t");
        return true;
      } catch {
        return false;
      }
    })();
    assert.equal(accepted, validate(expr), expr);
    assert.equal(accepted, valid.includes(expr), `${expr}: node-cron reads it as docs/config.md says`);
  }
});
