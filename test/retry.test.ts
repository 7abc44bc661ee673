/** The one retry loop, on an injected clock and sleep: which failures it retries, how long it waits, when it stops. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { retry } from "../src/core/retry.js";

/** A clock that moves only when the loop sleeps, recording every wait. */
function fakeTime() {
  let now = 1_000;
  const waits: number[] = [];
  return {
    waits,
    now: () => now,
    sleep: (ms: number) => {
      waits.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

class Flaky extends Error {}

const alwaysFlaky = (attempt: number): Promise<never> => Promise.reject(new Flaky(`try ${attempt}`));

test("retry returns the first success, waiting the caller's delay after each retryable failure", async () => {
  const time = fakeTime();
  const tries: number[] = [];
  const value = await retry(
    async (attempt) => {
      tries.push(attempt);
      if (attempt < 3) throw new Flaky(`try ${attempt}`);
      return "done";
    },
    { retryable: (err) => err instanceof Flaky, delayMs: (attempt) => 40 * attempt, attempts: 5, ...time },
  );
  assert.equal(value, "done");
  assert.deepEqual(tries, [1, 2, 3]);
  assert.deepEqual(time.waits, [40, 80]);
});

test("retry throws a failure that is not retryable at once, without waiting", async () => {
  const time = fakeTime();
  let tries = 0;
  const fatal = new Error("fatal");
  await assert.rejects(
    retry(
      async () => {
        tries += 1;
        throw fatal;
      },
      { retryable: (err) => err instanceof Flaky, delayMs: () => 10, attempts: 5, ...time },
    ),
    (err) => err === fatal,
  );
  assert.equal(tries, 1);
  assert.deepEqual(time.waits, []);
});

test("retry throws the last retryable failure after `attempts` tries", async () => {
  const time = fakeTime();
  const asked: number[] = [];
  const retryable = (err: unknown, attempt: number) => (asked.push(attempt), err instanceof Flaky);
  await assert.rejects(retry(alwaysFlaky, { retryable, delayMs: (attempt) => 50 * attempt, attempts: 3, ...time }), {
    message: "try 3",
  });
  assert.deepEqual(asked, [1, 2, 3]);
  assert.deepEqual(time.waits, [50, 100]);
});

test("retry stops once the timeout has passed since the first try, and passes the attempt to the predicate", async () => {
  const time = fakeTime();
  const asked: number[] = [];
  const retryable = (err: unknown, attempt: number) => (asked.push(attempt), err instanceof Flaky);
  await assert.rejects(retry(alwaysFlaky, { retryable, delayMs: () => 100, timeoutMs: 250, ...time }), {
    message: "try 4",
  });
  // Tries start at 0, 100, 200 and 300 ms; after the fourth fails, 300 ms have passed, past the 250 ms timeout.
  assert.deepEqual(asked, [1, 2, 3, 4]);
  assert.deepEqual(time.waits, [100, 100, 100]);
});
