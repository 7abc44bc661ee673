/** What a store should hold, as data: the profile a source offers, and how it replaces what the store holds. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonUsageRules } from "../../src/reconcile/cooldown-json.js";
import { desiredProfile, reconcileProfile } from "../../src/reconcile/profile.js";
import type { AuthProfileStore, SourceCredential } from "../../src/types.js";
import { randomToken } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = 1_800_000_000_000;

function source(overrides: Partial<SourceCredential> = {}): SourceCredential {
  return {
    origin: "test",
    accessToken: randomToken(),
    refreshToken: randomToken("ort"),
    expiresAt: 2_000_000_000_000,
    ...overrides,
  };
}

test("desiredProfile: token by default carries no refresh token", () => {
  const s = source();
  assert.deepEqual(desiredProfile(s, "token"), {
    type: "token",
    provider: "anthropic",
    token: s.accessToken,
    expires: s.expiresAt,
  });
});

test("desiredProfile: oauth copies the refresh token, and falls back to token without one", () => {
  const s = source();
  assert.deepEqual(desiredProfile(s, "oauth"), {
    type: "oauth",
    provider: "anthropic",
    access: s.accessToken,
    refresh: s.refreshToken,
    expires: s.expiresAt,
  });
  const noRefresh = source({ refreshToken: undefined });
  assert.equal(desiredProfile(noRefresh, "oauth").type, "token");
});

test("reconcileProfile adds a missing profile and keeps everything else", () => {
  const store: AuthProfileStore = {
    version: 1,
    profiles: { "anthropic:manual": { type: "token", provider: "anthropic", token: "t" } },
    order: { anthropic: ["anthropic:manual"] },
    usageStats: { "anthropic:manual": { cooldownUntil: 5 } },
    futureKey: { nested: [1, 2] },
  };
  const before = structuredClone(store);
  const desired = desiredProfile(source(), "token");
  const { next, outcome } = reconcileProfile(store, ID, desired, jsonUsageRules);
  assert.deepEqual(outcome, { result: "written", why: "missing" });
  assert.deepEqual(store, before, "input is not mutated");
  assert.deepEqual(next.profiles[ID], desired);
  assert.deepEqual(
    { ...next, profiles: { ...next.profiles, [ID]: undefined } },
    { ...before, profiles: { ...before.profiles, [ID]: undefined } },
  );
});

test("reconcileProfile is idempotent: the same credential is unchanged and returns the same object", () => {
  const desired = desiredProfile(source(), "token");
  const first = reconcileProfile({ version: 1, profiles: {} }, ID, desired, jsonUsageRules).next;
  const second = reconcileProfile(first, ID, desired, jsonUsageRules);
  assert.deepEqual(second.outcome, { result: "unchanged" });
  assert.equal(second.next, first);
});

test("reconcileProfile keeps the profile's unknown fields and drops the other type's secrets", () => {
  const old = { type: "oauth", provider: "anthropic", access: "a", refresh: "r", expires: 1, email: "me@example.com" };
  const desired = desiredProfile(source(), "token");
  const { next } = reconcileProfile({ profiles: { [ID]: old } }, ID, desired, jsonUsageRules);
  assert.deepEqual(next.profiles[ID], { ...desired, email: "me@example.com" });
});

test("reconcileProfile never replaces a credential that expires later", () => {
  const expires = 2_000_000_000_000 + 86_400_000;
  const stored = { type: "token", provider: "anthropic", token: randomToken(), expires };
  const { next, outcome } = reconcileProfile(
    { profiles: { [ID]: stored } },
    ID,
    desiredProfile(source(), "token"),
    jsonUsageRules,
  );
  assert.equal(outcome.result, "skipped");
  assert.match((outcome as { reason: string }).reason, /expires later/);
  assert.ok(
    !(outcome as { reason: string }).reason.includes(stored.token.slice(20)),
    "reason shows only a fingerprint",
  );
  assert.equal(next.profiles[ID], stored);
});

test("reconcileProfile refuses to overwrite an api_key under our id", () => {
  const { outcome } = reconcileProfile(
    { profiles: { [ID]: { type: "api_key", provider: "anthropic", key: "k" } } },
    ID,
    desiredProfile(source(), "token"),
    jsonUsageRules,
  );
  assert.equal(outcome.result, "skipped");
});

test("reconcileProfile: a stored expiry far beyond any real login's does not pin the store", () => {
  // 9e15 is what a forged credentials file once put in every store; later real logins were skipped for good.
  const stored = { type: "token", provider: "anthropic", token: randomToken(), expires: 9e15 };
  const desired = desiredProfile(source(), "token");
  const { next, outcome } = reconcileProfile({ profiles: { [ID]: stored } }, ID, desired, jsonUsageRules);
  assert.equal(outcome.result, "written");
  assert.equal(next.profiles[ID]?.token, desired.type === "token" ? desired.token : undefined);
});

test("reconcileProfile: our profile id holding another provider's credential is not ours: skipped, untouched", () => {
  for (const type of ["token", "oauth"]) {
    const stored = { type, provider: "openai", token: randomToken(), access: randomToken(), expires: 1 };
    const store = { profiles: { [ID]: stored } };
    const { next, outcome } = reconcileProfile(store, ID, desiredProfile(source(), "token"), jsonUsageRules);
    assert.equal(outcome.result, "skipped");
    assert.match((outcome as { reason: string }).reason, /"openai" credential, not anthropic: not ours/);
    assert.equal(next, store);
  }
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
