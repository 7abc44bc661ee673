/** The gateway's refresh fences as data: its digests, and its exact rules for what is a fence. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  holdsRefreshToken,
  isFailedFence,
  isPendingFence,
  parseRefreshFence,
  refreshGeneration,
  refreshSecretDigest,
} from "../../src/reconcile/fence.js";
import { randomToken } from "../helpers/env.js";
import { fenced, oauthProfile as oauth } from "../helpers/fence.js";

const ID = "anthropic:default";

test("the digest is the gateway's: vectors made by openclaw@2026.9.6's own createOAuthRefreshFence", () => {
  // createOAuthRefreshFence({profileId: "anthropic:default", credential: {provider: "anthropic", refresh: "sk-ant-ort01-
  // example-refresh", …}}) gave this refresh digest, and readOAuthRefreshGenerationDigest the same for the credential.
  const expected = "dbea66b1c601e74c18279951a89b609ffff490ae275757aff51afec86c7ffd66";
  assert.equal(refreshSecretDigest(ID, "anthropic", "sk-ant-ort01-example-refresh"), expected);
  const failed = {
    type: "oauth",
    provider: "anthropic",
    email: "a@b.c",
    access: `openclaw-oauth-refresh-fence:v1:79e103fa7da89bb6306ebc6328c26f1c:failed:access:b6ad09e3411a731ace719228cdfee5af03ee608849653fb790bda487c82af23c`,
    refresh: `openclaw-oauth-refresh-fence:v1:79e103fa7da89bb6306ebc6328c26f1c:failed:refresh:${expected}`,
    expires: 1,
  };
  assert.deepEqual(parseRefreshFence(failed), {
    state: "failed",
    claimId: "79e103fa7da89bb6306ebc6328c26f1c",
    refreshDigest: expected,
  });
  assert.equal(refreshGeneration(ID, failed), expected);
  assert.equal(
    refreshGeneration(ID, { provider: "anthropic", type: "oauth", refresh: "sk-ant-ort01-example-refresh" }),
    expected,
  );
});

test("a fence is recognised by the gateway's exact rules, nothing looser", () => {
  const refresh = randomToken("ort");
  const pending = fenced(ID, oauth(refresh), "pending");
  const failed = fenced(ID, oauth(refresh), "failed");
  assert.equal(isPendingFence(pending), true);
  assert.equal(isFailedFence(pending), false);
  assert.equal(isFailedFence(failed), true);
  for (const notAFence of [
    { ...pending, expires: 2 },
    { ...pending, type: "token" },
    { ...pending, access: failed.access },
    { ...pending, refresh: `${String(pending.refresh)}0` },
    { ...pending, access: String(pending.access).replace(/:v1:[a-f0-9]{32}:/, `:v1:${"0".repeat(32)}:`) },
    oauth(),
  ]) {
    assert.equal(parseRefreshFence(notAFence), undefined, JSON.stringify(notAFence).slice(0, 120));
  }
  assert.equal(holdsRefreshToken(ID, pending, refresh), true);
  assert.equal(holdsRefreshToken(ID, failed, refresh), true);
  assert.equal(holdsRefreshToken(ID, oauth(refresh), refresh), true);
  assert.equal(holdsRefreshToken(ID, failed, randomToken("ort")), false);
  assert.equal(holdsRefreshToken(ID, failed, undefined), false);
});
