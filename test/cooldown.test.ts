import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_COOLDOWN_CONFIG as CFG, isCredentialMarking } from "../src/reconcile/cooldown.js";
import {
  NEEDS_LOGIN_DISABLE_MS,
  billingDisableMs,
  clearMarking,
  cooldownMs,
  jsonUsageRules,
  markFailure,
} from "../src/reconcile/cooldown-json.js";
import type { Failure } from "../src/reconcile/failure.js";
import { updateUsage } from "../src/reconcile/usage.js";
import { cooldownConfigFrom } from "../src/reconcile/cooldown.js";
import { reconcileProfile } from "../src/reconcile/profile.js";
import { randomToken } from "./helpers/env.js";

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

test("updateUsage marks only a store that holds the profile, and no other profile", () => {
  const other = { cooldownUntil: NOW + MIN, errorCount: 1 };
  const store = { profiles: { "anthropic:manual": { type: "token" } }, usageStats: { "anthropic:manual": other } };
  assert.equal(
    updateUsage(store, "anthropic:claude-cli", (s) => markFailure(s, temp(), NOW, "new", CFG), "marked").outcome.result,
    "skipped",
  );
  const withOurs = { ...store, profiles: { ...store.profiles, "anthropic:claude-cli": { type: "token" } } };
  const { next, outcome } = updateUsage(
    withOurs,
    "anthropic:claude-cli",
    (s) => markFailure(s, temp(), NOW, "new", CFG),
    "marked",
  );
  assert.equal(outcome.result, "marked");
  assert.equal(next.usageStats!["anthropic:manual"], other);
  assert.equal(next.usageStats!["anthropic:claude-cli"]!.cooldownUntil, NOW + MIN);
});

test("a fresh credential clears a credential marking; the same token or a rate limit does not", () => {
  const ID = "anthropic:claude-cli";
  const old = { type: "token", provider: "anthropic", token: randomToken(), expires: NOW };
  const marked = {
    profiles: { [ID]: old },
    usageStats: {
      [ID]: {
        lastUsed: 3,
        disabledUntil: NOW + HOUR,
        disabledReason: "auth",
        errorCount: 1,
        failureCounts: { auth: 1 },
        lastFailureAt: NOW - 5,
      },
    },
  };
  const fresh = { type: "token" as const, provider: "anthropic", token: randomToken(), expires: NOW + 8 * HOUR };
  const { next, outcome } = reconcileProfile(marked, ID, fresh, jsonUsageRules);
  assert.deepEqual(outcome, { result: "written", why: "changed", recovered: { since: NOW - 5 } });
  assert.deepEqual(next.usageStats![ID], { lastUsed: 3, lastFailureAt: NOW - 5 });
  const sameToken = reconcileProfile(
    marked,
    ID,
    { ...old, type: "token" as const, token: old.token, expires: NOW },
    jsonUsageRules,
  );
  assert.equal(sameToken.outcome.result, "unchanged");
  const limited = {
    ...marked,
    usageStats: { [ID]: { cooldownUntil: NOW + MIN, errorCount: 1, failureCounts: { rate_limit: 1 } } },
  };
  assert.deepEqual(reconcileProfile(limited, ID, fresh, jsonUsageRules).next.usageStats, limited.usageStats);
});

test("cooldownConfigFrom reads auth.cooldowns and falls back like the gateway", () => {
  assert.deepEqual(cooldownConfigFrom(undefined), CFG);
  assert.deepEqual(
    cooldownConfigFrom({
      auth: {
        cooldowns: {
          billingBackoffHours: 2,
          billingMaxHours: -1,
          failureWindowHours: 1,
          billingBackoffHoursByProvider: { anthropic: 3 },
        },
      },
    }),
    {
      billingBackoffMs: 3 * HOUR,
      billingMaxMs: CFG.billingMaxMs,
      failureWindowMs: HOUR,
    },
  );
});
