/** The JSON eras' cooldown rules as data: the gateway's ladder, its failure window, disables, what clearing keeps. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_COOLDOWN_CONFIG as CFG, isCredentialMarking } from "../../src/reconcile/cooldown.js";
import {
  NEEDS_LOGIN_DISABLE_MS,
  billingDisableMs,
  clearMarking,
  cooldownMs,
  markFailure,
} from "../../src/reconcile/cooldown-json.js";
import type { Failure } from "../../src/reconcile/failure.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = 1_800_000_000_000;
const temp = (reason: Failure["reason"] = "unknown"): Failure => ({ reason, needsLogin: false, message: "m" });
const login: Failure = { reason: "auth", needsLogin: true, message: "m" };

test("the ladder is 1, 5, 25, then 60 minutes by total error count", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 9].map(cooldownMs), [1 * MIN, 5 * MIN, 25 * MIN, 60 * MIN, 60 * MIN, 60 * MIN]);
});

test("markFailure: counts, escalates and sets cooldownUntil exactly as the gateway does", () => {
  const first = markFailure({ lastUsed: 7 }, temp("timeout"), NOW, "new", CFG);
  assert.deepEqual(first, {
    lastUsed: 7,
    errorCount: 1,
    failureCounts: { timeout: 1 },
    lastFailureAt: NOW,
    cooldownUntil: NOW + MIN,
  });
  const second = markFailure(first, temp("unknown"), NOW + 2 * MIN, "new", CFG);
  assert.deepEqual(second, {
    lastUsed: 7,
    errorCount: 2,
    failureCounts: { timeout: 1, unknown: 1 },
    lastFailureAt: NOW + 2 * MIN,
    cooldownUntil: NOW + 7 * MIN,
  });
  const third = markFailure(second, temp("unknown"), NOW + 8 * MIN, "new", CFG);
  assert.equal(third.cooldownUntil, NOW + 8 * MIN + 25 * MIN);
  const fourth = markFailure(third, temp("rate_limit"), NOW + 40 * MIN, "new", CFG);
  assert.equal(fourth.cooldownUntil, NOW + 40 * MIN + HOUR);
  assert.equal(fourth.disabledUntil, undefined, "a rate limit never disables");
});

test("markFailure: counters reset when the last failure is older than the failure window", () => {
  const old = {
    errorCount: 3,
    failureCounts: { unknown: 3 },
    lastFailureAt: NOW - 25 * HOUR,
    cooldownUntil: NOW - 24 * HOUR,
  };
  assert.deepEqual(markFailure(old, temp(), NOW, "new", CFG), {
    errorCount: 1,
    failureCounts: { unknown: 1 },
    lastFailureAt: NOW,
    cooldownUntil: NOW + MIN,
  });
  const recent = { ...old, lastFailureAt: NOW - 23 * HOUR };
  assert.equal(markFailure(recent, temp(), NOW, "new", CFG).errorCount, 4);
});

test("markFailure: an ongoing problem is re-marked only once its cooldown ran out", () => {
  const marked = markFailure({}, temp(), NOW, "ongoing", CFG);
  assert.equal(markFailure(marked, temp(), NOW + 30_000, "ongoing", CFG), marked);
  assert.equal(markFailure(marked, temp(), NOW + 61_000, "ongoing", CFG).cooldownUntil, NOW + 61_000 + 5 * MIN);
});

test("markFailure: a dead login is disabled (auth) and extended, counted once per incident", () => {
  const first = markFailure({ cooldownUntil: NOW - 1 }, login, NOW, "new", CFG);
  assert.equal(first.disabledUntil, NOW + NEEDS_LOGIN_DISABLE_MS);
  assert.equal(first.disabledReason, "auth");
  assert.equal(first.errorCount, 1);
  assert.deepEqual(first.failureCounts, { auth: 1 });
  assert.equal(markFailure(first, login, NOW + 10 * MIN, "new", CFG), first, "more than half left: unchanged");
  const extended = markFailure(first, login, NOW + 40 * MIN, "new", CFG);
  assert.equal(extended.disabledUntil, NOW + 40 * MIN + NEEDS_LOGIN_DISABLE_MS);
  assert.equal(extended.errorCount, 1, "same incident");
});

test("markFailure: billing follows the gateway's backoff (5 h doubling to 24 h)", () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => billingDisableMs(n, CFG) / HOUR),
    [5, 10, 20, 24],
  );
  const billed = markFailure({}, temp("billing"), NOW, "new", CFG);
  assert.deepEqual(
    [billed.disabledUntil, billed.disabledReason, billed.cooldownUntil],
    [NOW + 5 * HOUR, "billing", undefined],
  );
});

test("clearMarking keeps lastUsed and lastFailureAt; isCredentialMarking spares account-level markings", () => {
  assert.deepEqual(
    clearMarking({
      lastUsed: 1,
      lastFailureAt: 2,
      errorCount: 3,
      cooldownUntil: 4,
      disabledUntil: 5,
      disabledReason: "auth",
      failureCounts: { auth: 1 },
      custom: true,
    }),
    { lastUsed: 1, lastFailureAt: 2, custom: true },
  );
  assert.equal(isCredentialMarking({ disabledUntil: 1, disabledReason: "auth" }), true);
  assert.equal(isCredentialMarking({ cooldownUntil: 1, failureCounts: { timeout: 1 } }), true);
  assert.equal(isCredentialMarking({ cooldownUntil: 1, failureCounts: { rate_limit: 2 } }), false);
  assert.equal(isCredentialMarking({ disabledUntil: 1, disabledReason: "billing" }), false);
  assert.equal(isCredentialMarking({ lastUsed: 1 }), false);
});
