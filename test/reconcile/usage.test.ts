/** A marking as a store change: only our profile's stats, and only in a store that holds the profile. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_COOLDOWN_CONFIG as CFG } from "../../src/reconcile/cooldown.js";
import { markFailure } from "../../src/reconcile/cooldown-json.js";
import type { Failure } from "../../src/reconcile/failure.js";
import { updateUsage } from "../../src/reconcile/usage.js";

const MIN = 60_000;
const NOW = 1_800_000_000_000;
const temp = (reason: Failure["reason"] = "unknown"): Failure => ({ reason, needsLogin: false, message: "m" });

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
