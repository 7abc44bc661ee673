/**
 * Refresh fences with the real openclaw@2026.9.6: fences made by its own `createOAuthRefreshFence` and
 * `createFailedOAuthRefreshFence`, saved through its `updateAuthProfileStoreWithLock`, and its `models status --json`
 * as the judge: a failed fence is expired OAuth outside the effective order before our recovery, and a usable token
 * in it, holding the login's token, after. A pending fence is left byte for byte.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { refreshSecretDigest } from "../src/reconcile/fence.js";
import { leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../test/helpers/env.js";
import { readStateCells } from "../test/helpers/sqlite-store.js";
import { oauthProfile } from "../test/helpers/fence.js";
import { snapshotTree } from "../test/helpers/tree.js";
import { type Gateway, installGateway, modelsStatus, runGateway } from "./gateway.js";
import { gatewayFence } from "./gateway-fences.js";
import { gatewayMarkFailure } from "./gateway-usage.js";

let gateway: Gateway;
before(() => {
  gateway = installGateway("2026.9.6");
});

const TIMEOUT = { timeout: 600_000 };
const ID = "anthropic:default";
type Json = Record<string, unknown>;
interface Listed {
  profileId: string;
  type: string;
  status: string;
}
interface Status {
  auth: {
    oauth: { providers: Array<{ provider: string; profiles: Listed[]; effectiveProfiles: Listed[] }> };
    unusableProfiles: Array<{ profileId: string; kind: string; reason?: string }>;
    providers: Array<{ provider: string; profiles: { labels: string[] } }>;
  };
}

/** How the gateway sees one profile: its listing, whether it is in the effective order, unusable, and its label. */
async function seen(t: TestHome, profileId: string) {
  const status = (await modelsStatus(gateway, t.stateDir, t.home)) as Status;
  const anthropic = status.auth.oauth.providers.find((p) => p.provider === "anthropic")!;
  const labels = status.auth.providers.find((p) => p.provider === "anthropic")!.profiles.labels;
  return {
    listed: anthropic.profiles.find((p) => p.profileId === profileId),
    effective: anthropic.effectiveProfiles.some((p) => p.profileId === profileId),
    unusable: status.auth.unusableProfiles.filter((u) => u.profileId === profileId),
    label: labels.find((l) => l.startsWith(`${profileId}=`)),
  };
}

/** A state dir made by the gateway (`paste-token`), with `anthropic:default` registered in its config's auth.profiles. */
async function gatewayStateDir(t: TestHome): Promise<void> {
  const manual = randomToken();
  t.planted.push(manual);
  await runGateway(
    gateway,
    ["models", "auth", "paste-token", "--provider", "anthropic"],
    t.stateDir,
    t.home,
    gateway.entry,
    `${manual}\n`,
  );
  const file = path.join(t.stateDir, "openclaw.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as { auth: { profiles: Json } };
  config.auth.profiles[ID] = { provider: "anthropic", mode: "oauth" };
  writeFileSync(file, JSON.stringify(config, null, 2));
}

/** The gateway's label of a token profile ends with the token's last 8 characters: ours, by fingerprint. */
const holds = (label: string | undefined, token: string) =>
  label?.startsWith(`${ID}=token:`) && label.endsWith(token.slice(-8));

test(
  "openclaw@2026.9.6: a failed fence of the login's refresh token is recovered by sync, in the effective order",
  TIMEOUT,
  async () => {
    const t = makeHome();
    try {
      await gatewayStateDir(t);
      const cred = t.writeCredentials();
      const held = oauthProfile(cred.refreshToken, { email: "me@example.com" });
      t.planted.push(held.access);
      const digest = await gatewayFence(gateway, t.stateDir, t.home, ID, held, "failed");
      assert.equal(refreshSecretDigest(ID, "anthropic", cred.refreshToken), digest, "our digest is the gateway's");
      const before = await seen(t, ID);
      assert.deepEqual(before.listed && [before.listed.type, before.listed.status], ["oauth", "expired"]);
      assert.equal(before.effective, false, "a failed fence is outside the effective order");
      assert.deepEqual(before.unusable, [], "and not among the unusable profiles");
      const status = await runCli(["status"], t.env);
      assert.equal(status.code, 1, status.stdout + status.stderr);
      assert.match(status.stdout, /anthropic:default oauth refresh failed \(a failed refresh fence/);
      assert.doesNotMatch(status.stdout, /anthropic:default oauth sk-|expires \d+d/);
      const sync = await runCli(["sync"], t.env);
      assert.equal(sync.code, 0, sync.stdout + sync.stderr);
      assert.match(
        sync.stdout,
        /main +anthropic:default +written +recovered from a failed refresh: .*proven by its refresh token/,
      );
      const after = await seen(t, ID);
      assert.equal(after.listed?.type, "token");
      assert.ok(["ok", "expiring"].includes(after.listed?.status ?? ""), after.listed?.status);
      assert.equal(after.effective, true, "in the effective order");
      assert.deepEqual(after.unusable, []);
      assert.ok(holds(after.label, cred.accessToken), "the gateway lists the login's token");
      const stored = (readStateCells(t).store?.profiles as Record<string, Json>)[ID]!;
      assert.deepEqual(Object.keys(stored).sort(), ["email", "expires", "provider", "token", "type"]);
      const ok = await runCli(["status"], t.env);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const all = [status, sync, ok].map((r) => r.stdout + r.stderr).join("");
      assert.deepEqual(leakedTokens(all, t.planted), []);
      assert.doesNotMatch(all, new RegExp(digest.slice(0, 16)), "no digest printed");
    } finally {
      t.cleanup();
    }
  },
);

test(
  "openclaw@2026.9.6: a failed fence of another account is left to recover, which clears its disable",
  TIMEOUT,
  async () => {
    const t = makeHome();
    try {
      await gatewayStateDir(t);
      const cred = t.writeCredentials();
      writeFileSync(
        path.join(t.home, ".claude.json"),
        JSON.stringify({ oauthAccount: { emailAddress: "me@example.com" } }),
      );
      const theirs = oauthProfile(randomToken("ort"), { email: "someone@example.com" });
      t.planted.push(theirs.access, theirs.refresh);
      await gatewayFence(gateway, t.stateDir, t.home, ID, theirs, "failed");
      // The gateway records the failed refresh as auth_permanent too.
      await gatewayMarkFailure(gateway, t.stateDir, t.home, ID, "auth_permanent");
      const before = await seen(t, ID);
      assert.equal(before.listed?.status, "expired");
      assert.equal(before.effective, false);
      const sync = await runCli(["sync"], t.env);
      assert.equal(sync.code, 0, sync.stdout + sync.stderr);
      assert.equal((readStateCells(t).store?.profiles as Record<string, Json>)[ID]!.type, "oauth", "not switched");
      const status = await runCli(["status"], t.env);
      assert.equal(status.code, 1);
      const fix = "`moltbot-auth-sync recover --agent main --profile anthropic:default` switches it to me@example.com";
      assert.ok(status.stderr.includes(fix), status.stderr);
      const recover = await runCli(["recover", "--profile", ID], t.env);
      assert.equal(recover.code, 0, recover.stdout + recover.stderr);
      const after = await seen(t, ID);
      assert.equal(after.listed?.type, "token");
      assert.equal(after.effective, true);
      assert.deepEqual(after.unusable, [], "its disable is cleared");
      assert.ok(holds(after.label, cred.accessToken));
      const all = [sync, status, recover].map((r) => r.stdout + r.stderr).join("");
      assert.deepEqual(leakedTokens(all, t.planted), []);
    } finally {
      t.cleanup();
    }
  },
);

test(
  "openclaw@2026.9.6: a pending fence is left byte for byte by sync, cooldown clear and recover",
  TIMEOUT,
  async () => {
    const t = makeHome();
    try {
      await gatewayStateDir(t);
      const cred = t.writeCredentials();
      const held = oauthProfile(cred.refreshToken);
      t.planted.push(held.access);
      await gatewayFence(gateway, t.stateDir, t.home, ID, held, "pending");
      await gatewayMarkFailure(gateway, t.stateDir, t.home, ID, "rate_limit");
      const before = snapshotTree(t.stateDir);
      const sync = await runCli(["sync"], t.env);
      assert.equal(sync.code, 0, sync.stdout + sync.stderr);
      const clear = await runCli(["cooldown", "clear", "--profile", ID], t.env);
      assert.match(clear.stdout, /main +skipped +the gateway is refreshing it/);
      const recover = await runCli(["recover", "--profile", ID], t.env);
      assert.equal(recover.code, 1);
      assert.match(recover.stderr, /the gateway is refreshing anthropic:default now \(a pending refresh fence\)/);
      assert.deepEqual(snapshotTree(t.stateDir), before);
      const listed = await seen(t, ID);
      assert.equal(listed.listed?.status, "expired");
      const all = [sync, clear, recover].map((r) => r.stdout + r.stderr).join("");
      assert.deepEqual(leakedTokens(all, t.planted), []);
    } finally {
      t.cleanup();
    }
  },
);
