/**
 * Recovery from a failed refresh as data: which profile may be switched to the login and on what proof, the switch
 * itself, keeping a recovered profile fresh, and a pending fence left alone by every change.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sqliteUsageRules } from "../../src/reconcile/cooldown-sqlite.js";
import { PENDING_FENCE, refreshSecretDigest } from "../../src/reconcile/fence.js";
import { reconcileProfile } from "../../src/reconcile/profile.js";
import {
  accountMatch,
  fenceFindings,
  keepRecovered,
  loginRefreshDigests,
  recoverProfile,
  sameAccountProof,
} from "../../src/reconcile/recovery.js";
import { updateUsage } from "../../src/reconcile/usage.js";
import type { AuthProfileStore, TokenProfile } from "../../src/types.js";
import { randomToken } from "../helpers/env.js";
import { fenced, oauthProfile as oauth } from "../helpers/fence.js";

const ID = "anthropic:default";
const store = (profile: Record<string, unknown>, stats?: Record<string, unknown>): AuthProfileStore => ({
  version: 1,
  profiles: { [ID]: profile, "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() } },
  ...(stats ? { usageStats: { [ID]: stats } } : {}),
});
const login = (): TokenProfile => ({
  type: "token",
  provider: "anthropic",
  token: randomToken(),
  expires: 2_100_000_000_000,
});
const rules = { usage: sqliteUsageRules };

test("a pending fence is never written, marked or cleared: every change leaves the store as it is", () => {
  const profile = fenced(ID, oauth(), "pending");
  const s = store(profile, { disabledUntil: 5, disabledReason: "auth_permanent", errorCount: 2 });
  for (const outcome of [
    reconcileProfile(s, ID, login(), sqliteUsageRules),
    reconcileProfile(s, ID, login(), sqliteUsageRules, { sourceDecides: true }),
    updateUsage(s, ID, () => ({}), "cleared"),
    recoverProfile(s, ID, login(), rules),
    keepRecovered(s, ID, login(), rules),
  ]) {
    assert.equal(outcome.next, s);
    assert.deepEqual(outcome.outcome, { result: "skipped", reason: PENDING_FENCE, code: "pending-fence" });
  }
});

test("recovery: a failed fence becomes the login's token, other fields kept, cooldown and counters cleared", () => {
  const profile = fenced(ID, oauth(randomToken("ort"), { email: "me@example.com", subscriptionType: "max" }), "failed");
  const stats = {
    disabledUntil: 2_000,
    disabledReason: "auth_permanent",
    errorCount: 3,
    failureCounts: { auth_permanent: 3 },
    lastFailureAt: 1_500,
    lastUsed: 1_000,
  };
  const s = store(profile, stats);
  const desired = login();
  const { next, outcome } = recoverProfile(s, ID, desired, rules);
  assert.deepEqual(next.profiles[ID], { ...desired, email: "me@example.com", subscriptionType: "max" });
  assert.equal(Object.hasOwn(next.profiles[ID] ?? {}, "refresh"), false);
  assert.deepEqual(next.usageStats?.[ID], { errorCount: 0, lastFailureAt: 1_500, lastUsed: 1_000 });
  assert.deepEqual(outcome, { result: "written", why: "changed", recovered: { since: 1_500 } });
  assert.deepEqual(next.profiles["anthropic:manual"], s.profiles["anthropic:manual"]);
  // Another agent reading the same store sees it recovered already.
  assert.deepEqual(recoverProfile(next, ID, desired, rules).outcome, { result: "unchanged" });
  // A live profile of someone else's is no failed refresh.
  const live = store(oauth());
  assert.equal(recoverProfile(live, ID, desired, rules).outcome.result, "skipped");
  assert.equal(recoverProfile(live, ID, desired, rules).next, live);
  // Another provider's failed refresh is never switched to an Anthropic token.
  const openai = store(fenced(ID, { ...oauth(), provider: "openai" }, "failed"));
  assert.equal(recoverProfile(openai, ID, desired, rules).outcome.result, "skipped");
  // One holding the login's own refresh token is recovered before it breaks.
  const refresh = randomToken("ort");
  const shared = recoverProfile(store(oauth(refresh)), ID, desired, { ...rules, refreshToken: refresh });
  assert.deepEqual(shared.next.profiles[ID], desired);
});

test("a recovered profile is kept fresh, recovered again where a copy is still fenced, and let go when oauth again", () => {
  const desired = login();
  const older: TokenProfile = { ...login(), expires: 2_000_000_000_000 };
  const kept = keepRecovered(store(older), ID, desired, rules);
  assert.deepEqual(kept.next.profiles[ID], desired);
  assert.equal(kept.outcome.result, "written");
  assert.equal(keepRecovered(store(fenced(ID, oauth(), "failed")), ID, desired, rules).outcome.result, "written");
  const theirs = keepRecovered(store(oauth()), ID, desired, rules);
  assert.match(
    (theirs.outcome as { reason: string }).reason,
    /holds oauth credentials again \(signed in anew\?\): no longer kept by us/,
  );
  const missing: AuthProfileStore = { version: 1, profiles: {} };
  assert.deepEqual(keepRecovered(missing, ID, desired, rules).outcome, {
    result: "skipped",
    reason: `no ${ID} profile`,
    code: "no-profile",
  });
});

test("the same account is proven by identity or by a refresh token the login held, never assumed", () => {
  const account = { accountUuid: "u-1", email: "Me@Example.com" };
  assert.equal(accountMatch({ accountId: "u-1" }, account), "same");
  assert.equal(accountMatch({ accountId: "u-2", email: "me@example.com" }, account), "different");
  assert.equal(accountMatch({ email: "me@example.COM" }, account), "same");
  assert.equal(accountMatch({ email: "other@example.com" }, account), "different");
  assert.equal(accountMatch({}, account), "unknown");
  assert.equal(accountMatch({ email: "me@example.com" }, undefined), "unknown");
  const held = randomToken("ort");
  const failed = fenced(ID, oauth(held), "failed");
  assert.equal(sameAccountProof(ID, failed, {}), undefined);
  assert.equal(sameAccountProof(ID, failed, { refreshToken: held }), "refresh token");
  const digest = refreshSecretDigest(ID, "anthropic", held);
  assert.equal(sameAccountProof(ID, failed, { knownDigests: new Set([digest]) }), "refresh token");
  assert.equal(sameAccountProof(ID, { ...failed, email: "me@example.com" }, { account }), "account");
  // A known, different account is never overruled by a digest.
  const other = { ...failed, email: "other@example.com" };
  assert.equal(sameAccountProof(ID, other, { account, refreshToken: held }), undefined);
});

test("findings: failed (with proof), pending and shared profiles; digests only of profiles holding the login's token", () => {
  const loginRefresh = randomToken("ort");
  const s: AuthProfileStore = {
    version: 1,
    profiles: {
      "anthropic:a": fenced("anthropic:a", oauth(loginRefresh), "failed"),
      "anthropic:b": fenced("anthropic:b", oauth(), "failed"),
      "anthropic:c": fenced("anthropic:c", oauth(loginRefresh), "pending"),
      "anthropic:d": oauth(loginRefresh),
      "anthropic:e": oauth(),
      "openai:f": fenced("openai:f", { ...oauth(), provider: "openai" }, "failed"),
    },
  };
  assert.deepEqual(fenceFindings(s, { refreshToken: loginRefresh }), [
    { profileId: "anthropic:a", kind: "failed", proof: "refresh token" },
    { profileId: "anthropic:b", kind: "failed" },
    { profileId: "anthropic:c", kind: "pending" },
    { profileId: "anthropic:d", kind: "shared" },
  ]);
  assert.deepEqual(loginRefreshDigests(s, loginRefresh), [
    refreshSecretDigest("anthropic:a", "anthropic", loginRefresh),
    refreshSecretDigest("anthropic:c", "anthropic", loginRefresh),
    refreshSecretDigest("anthropic:d", "anthropic", loginRefresh),
  ]);
  assert.deepEqual(loginRefreshDigests(s, undefined), []);
});
