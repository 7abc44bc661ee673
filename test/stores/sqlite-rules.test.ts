/** The SQLite era's pure parts: cooldown ladder, the agent's view, where changes go, the lock's name. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { test } from "node:test";
import { lockPath } from "../../src/stores/sqlite/lifecycle-lock.js";
import { sharedLocation } from "../../src/stores/sqlite/layout.js";
import {
  clearMarking,
  markFailure,
  markings,
  nextFailureStats,
  unusableUntil,
} from "../../src/reconcile/cooldown-sqlite.js";
import { agentView, cellWrites, ownerOf } from "../../src/stores/sqlite/view.js";
import { admitProfile } from "../../src/stores/sqlite/adapter.js";
import type { ProfileUsageStats } from "../../src/types.js";

const S = 1_000;
const MIN = 60 * S;
const H = 60 * MIN;
const now = 1_800_000_000_000;

test("cooldown ladder: generic 30 s, 60 s, then 300 s; a running window is never extended", () => {
  let stats: ProfileUsageStats = {};
  const untils: number[] = [];
  for (let i = 0; i < 4; i++) {
    // Each failure arrives while the previous window runs, so the counters keep counting.
    const at = now + i * S;
    stats = nextFailureStats({ ...stats, cooldownUntil: undefined }, "timeout", at);
    untils.push(stats.cooldownUntil! - at);
  }
  assert.deepEqual(untils, [30 * S, 60 * S, 300 * S, 300 * S]);
  const running = nextFailureStats({ cooldownUntil: now + 10 * S, errorCount: 1 }, "unknown", now);
  assert.equal(running.cooldownUntil, now + 10 * S);
  assert.equal(running.errorCount, 2);
  assert.equal(running.cooldownReason, "unknown");
});

test("cooldown ladder: rate_limit doubles 30 s to 24 h by failureCounts.rate_limit, which survives a reset", () => {
  assert.equal(nextFailureStats({}, "rate_limit", now).cooldownUntil, now + 30 * S);
  const running = nextFailureStats({ failureCounts: { rate_limit: 3 }, cooldownUntil: now + 1 }, "rate_limit", now);
  assert.equal(running.cooldownUntil, now + 1);
  // The previous window is over: errorCount resets, the rate-limit count does not.
  const ended = {
    failureCounts: { rate_limit: 3, timeout: 2 },
    errorCount: 5,
    cooldownUntil: now - 1,
    lastFailureAt: now - MIN,
  };
  const after = nextFailureStats(ended, "rate_limit", now);
  assert.deepEqual([after.errorCount, after.failureCounts, after.cooldownUntil], [1, { rate_limit: 4 }, now + 240 * S]);
  const capped = nextFailureStats({ failureCounts: { rate_limit: 30 }, cooldownUntil: now - 1 }, "rate_limit", now);
  assert.equal(capped.cooldownUntil, now + 24 * H);
});

test("cooldown ladder: billing 10 min doubling to 24 h and auth_permanent to 1 h, as disables", () => {
  const billing = nextFailureStats({}, "billing", now);
  const { disabledUntil, disabledReason, cooldownUntil } = billing;
  assert.deepEqual([disabledUntil, disabledReason, cooldownUntil], [now + 10 * MIN, "billing", undefined]);
  // Earlier failures whose disables have no window left on record: the counts go on.
  const counted = (reason: string, count: number) => ({
    failureCounts: { [reason]: count },
    errorCount: count,
    lastFailureAt: now - S,
  });
  assert.equal(nextFailureStats(counted("billing", 20), "billing", now).disabledUntil, now + 24 * H);
  assert.equal(nextFailureStats(counted("auth_permanent", 1), "auth_permanent", now).disabledUntil, now + 20 * MIN);
  assert.equal(nextFailureStats(counted("auth_permanent", 9), "auth_permanent", now).disabledUntil, now + H);
});

test("cooldown ladder: counters reset after 24 h; a rate limit during a subscription block changes nothing", () => {
  const stale = { errorCount: 7, failureCounts: { timeout: 7 }, lastFailureAt: now - 25 * H };
  const old = nextFailureStats(stale, "timeout", now);
  assert.deepEqual([old.errorCount, old.failureCounts], [1, { timeout: 1 }]);
  const blocked: ProfileUsageStats = { blockedUntil: now + H, blockedReason: "subscription_limit" };
  assert.equal(nextFailureStats(blocked, "rate_limit", now), blocked);
  const classified = nextFailureStats({ cooldownClassification: "wham_token_expired" }, "auth", now);
  assert.equal(classified.cooldownClassification, undefined);
});

test("markings: a dead login is auth_permanent; an ongoing problem is re-marked only once its window ran out", () => {
  const dead = markFailure({}, { reason: "auth", needsLogin: true, message: "x" }, now, "new");
  assert.deepEqual([dead.disabledReason, dead.disabledUntil], ["auth_permanent", now + 10 * MIN]);
  assert.equal(markFailure(dead, { reason: "auth", needsLogin: true, message: "x" }, now + MIN, "ongoing"), dead);
  const again = markFailure(dead, { reason: "auth", needsLogin: true, message: "x" }, now + 11 * MIN, "ongoing");
  assert.equal(again.disabledUntil, now + 11 * MIN + 10 * MIN, "the window ran out, so counters reset: 10 min again");
});

test("clear: removes what makes the gateway list a profile, blocks included; keeps lastUsed and lastFailureAt", () => {
  const stats: ProfileUsageStats = {
    lastUsed: 5,
    lastFailureAt: 6,
    blockedUntil: now + H,
    blockedReason: "subscription_limit",
    blockedSource: "wham",
    blockedModel: "m",
    blockedScope: "model",
    cooldownUntil: now + H,
    cooldownReason: "rate_limit",
    cooldownModel: "m",
    cooldownClassification: "wham_token_expired",
    disabledUntil: now + H,
    disabledReason: "billing",
    errorCount: 4,
    failureCounts: { rate_limit: 4 },
    futureField: "kept",
  };
  const cleared = clearMarking(stats);
  assert.deepEqual(cleared, { lastUsed: 5, lastFailureAt: 6, errorCount: 0, futureField: "kept" });
  assert.equal(unusableUntil(cleared), undefined);
  assert.deepEqual(clearMarking({ lastUsed: 5 }), { lastUsed: 5 }, "nothing to clear stays as it is");
});

test("status: unusable profiles as models status lists them, a block alone being a cooldown without a reason", () => {
  const listed = markings(
    {
      "anthropic:a": { blockedUntil: now + H, blockedReason: "subscription_limit" },
      "anthropic:b": {
        cooldownUntil: now + MIN,
        cooldownReason: "auth",
        cooldownClassification: "wham_token_expired",
        disabledUntil: now - 1,
      },
      "anthropic:c": { disabledUntil: now + 2 * H, disabledReason: "billing", cooldownUntil: now + 3 * H },
      "anthropic:d": { cooldownUntil: now - 1 },
    },
    now,
  );
  assert.deepEqual(listed, [
    {
      profile: "anthropic:b",
      kind: "cooldown",
      until: now + MIN,
      reason: "auth",
      classification: "wham_token_expired",
    },
    { profile: "anthropic:a", kind: "cooldown", until: now + H },
    { profile: "anthropic:c", kind: "disabled", until: now + 3 * H, reason: "billing" },
  ]);
});

const token = (t: string) => ({ type: "token", provider: "anthropic", token: t });
const stateOf = (manual: number, x: number) => ({
  version: 1,
  usageStats: { "anthropic:manual": { cooldownUntil: manual }, "anthropic:x": { cooldownUntil: x } },
});

test("view: an agent's own profile shadows the shared one, and its stats come from the profile's owner", () => {
  const cells = {
    shared: {
      store: { version: 1, profiles: { "anthropic:manual": token("S"), "anthropic:x": token("X") } },
      state: stateOf(1, 2),
    },
    local: {
      store: { version: 1, profiles: { "anthropic:manual": token("L") } },
      state: stateOf(3, 4),
    },
  };
  const view = agentView(cells);
  assert.deepEqual(view.profiles, { "anthropic:manual": token("L"), "anthropic:x": token("X") });
  assert.deepEqual(view.usageStats, { "anthropic:manual": { cooldownUntil: 3 }, "anthropic:x": { cooldownUntil: 2 } });
  const owners = ["anthropic:manual", "anthropic:x", "anthropic:new"].map((id) => ownerOf(cells, id));
  assert.deepEqual(owners, ["local", "shared", "shared"]);
});

test("view: a change goes to its owner's cell, all else stays; a missing state cell gets the gateway's shape", () => {
  const cells = {
    shared: { store: { version: 1, profiles: { "anthropic:x": { ...token("X"), email: "e" } }, futureTop: 1 } },
    local: {
      store: { version: 1, profiles: { "anthropic:manual": token("L") } },
      state: { version: 1, order: { anthropic: ["anthropic:manual"] }, usageStats: {} },
    },
  };
  const view = agentView(cells);
  const next = {
    ...view,
    profiles: { ...view.profiles, "anthropic:manual": token("L2"), "anthropic:new": token("N") },
    usageStats: { "anthropic:x": { errorCount: 0 } },
  };
  const writes = cellWrites(cells, view, next);
  assert.deepEqual(writes.local?.store, { version: 1, profiles: { "anthropic:manual": token("L2") } });
  assert.equal(writes.local?.state, cells.local.state, "the local state cell is untouched");
  const sharedProfiles = { "anthropic:x": { ...token("X"), email: "e" }, "anthropic:new": token("N") };
  assert.deepEqual(writes.shared?.store, { version: 1, futureTop: 1, profiles: sharedProfiles });
  assert.deepEqual(writes.shared?.state, { version: 1, usageStats: { "anthropic:x": { errorCount: 0 } } });
});

test("view: a refresh token or anthropic:claude-cli is never written, whatever the change", () => {
  const cells = { shared: { store: { version: 1, profiles: {} } } };
  const view = agentView(cells);
  const oauth = { type: "oauth", provider: "anthropic", access: "a", refresh: "r", expires: 1 };
  type Profiles = Record<string, Record<string, unknown>>;
  const writing = (profiles: Profiles) => () => cellWrites(cells, view, { ...view, profiles });
  assert.throws(writing({ "anthropic:mine": oauth }), /refresh token is never written/);
  assert.throws(writing({ "anthropic:claude-cli": token("T") }), /retired/);
  assert.match(admitProfile("anthropic:claude-cli", token("T"))!, /^not copied: .*natively/);
  assert.match(admitProfile("anthropic:mine", oauth)!, /refresh token/);
  assert.equal(admitProfile("anthropic:mine", token("T")), undefined);
});

test("layout: the shared store's marker is state-db, legacy-main or absent; anything else is refused", () => {
  assert.equal(sharedLocation(undefined, "f"), "legacy-main");
  assert.equal(sharedLocation({ location: "state-db" }, "f"), "state-db");
  assert.equal(sharedLocation({ location: "legacy-main" }, "f"), "legacy-main");
  assert.throws(() => sharedLocation({ location: "state-db", extra: 1 }, "f"), /unknown location/);
});

test("lifecycle lock: named as the gateway names it, by sha256 of the state database's real path", () => {
  const db = "/tmp/sqx-does-not-exist/state/openclaw.sqlite";
  const hash = createHash("sha256").update(db).digest("hex").slice(0, 8);
  const expected = `${realpathSync("/tmp")}/openclaw-state-locks-1000/state-lifecycle.${hash}.lock.sqlite`;
  assert.equal(lockPath("state-lifecycle", db, 1000), expected);
});
