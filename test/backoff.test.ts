/** The one backoff: doubling from the base to the cap, jitter within its bounds, as the refresher and lock use it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay } from "../src/core/backoff.js";
import { FILE_LOCK_RETRY } from "../src/stores/locks/directory-lock.js";

test("backoffDelay doubles from the base to the cap, with ±20 % jitter by default", () => {
  const policy = { baseMs: 15_000, capMs: 600_000 };
  const exact = (attempt: number) => backoffDelay(attempt, policy, () => 0.5);
  assert.deepEqual([1, 2, 3, 6, 7, 50].map(exact), [15_000, 30_000, 60_000, 480_000, 600_000, 600_000]);
  assert.equal(
    backoffDelay(1, policy, () => 0),
    12_000,
  );
  assert.equal(
    backoffDelay(1, policy, () => 1),
    18_000,
  );
  assert.equal(
    backoffDelay(1, { ...policy, jitter: 0.25 }, () => 0),
    11_250,
  );
});

test("the store lock's retry delay: 100 ms doubling to 1 s, within ±25 %", () => {
  for (let attempt = 1; attempt <= 8; attempt++) {
    const exact = Math.min(1_000, 100 * 2 ** (attempt - 1));
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(attempt, FILE_LOCK_RETRY);
      assert.ok(delay >= Math.floor(exact * 0.75) && delay <= Math.ceil(exact * 1.25), `${attempt}: ${delay}`);
    }
  }
});
