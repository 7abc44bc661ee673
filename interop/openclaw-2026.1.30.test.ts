/**
 * Interop with the real gateway, openclaw@2026.1.30 (the Moltbot-era JSON v1 store): after our sync, the
 * gateway itself must list our profile with the source's expiry, and still list everything that was there.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { DaemonProcess, installFakeClaude } from "../test/helpers/daemon.js";
import { makeHome, randomToken, runCli } from "../test/helpers/env.js";
import { type Gateway, installGateway, modelsStatus } from "./gateway.js";

const ID = "anthropic:claude-cli";
let gateway: Gateway;

before(() => {
  gateway = installGateway("2026.1.30");
});

test("openclaw@2026.1.30 sees the synced profile and keeps every profile and cooldown that was there", { timeout: 600_000 }, async () => {
  const t = makeHome();
  try {
    const cred = t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
    const manual = randomToken();
    const otherCooldown = Date.now() + 20 * 60_000;
    t.writeStore("main", {
      version: 1,
      profiles: { "anthropic:manual": { type: "token", provider: "anthropic", token: manual } },
      usageStats: { "anthropic:manual": { cooldownUntil: otherCooldown, errorCount: 2 } },
    });
    const setupToken = randomToken();
    assert.equal((await runCli(["token", "set", "--profile", "anthropic:setup"], t.env, { input: setupToken })).code, 0);
    const sync = await runCli(["sync"], t.env);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);

    const status = await modelsStatus(gateway, t.stateDir, t.home);
    const profiles = status.auth.oauth.profiles as Array<{ profileId: string; type: string; expiresAt?: number; status: string }>;
    const ours = profiles.find((p) => p.profileId === ID);
    assert.ok(ours, `our profile is listed: ${JSON.stringify(profiles)}`);
    assert.equal(ours.type, "token");
    assert.equal(ours.expiresAt, cred.expiresAt);
    const manualEntry = profiles.find((p) => p.profileId === "anthropic:manual");
    assert.equal(manualEntry?.status, "static");
    const setupEntry = profiles.find((p) => p.profileId === "anthropic:setup");
    assert.deepEqual([setupEntry?.type, setupEntry?.status], ["token", "static"], "the setup-token profile is a static token to the gateway");
    assert.deepEqual(
      status.auth.unusableProfiles.map((u: { profileId: string; kind: string; until: number }) => [u.profileId, u.kind, u.until]),
      [["anthropic:manual", "cooldown", otherCooldown]],
    );
  } finally {
    t.cleanup();
  }
});

const unusable = (status: any) => status.auth.unusableProfiles as Array<{ profileId: string; kind: string; reason?: string; until: number }>;

test("openclaw@2026.1.30 honours our markings: disabled (auth) after a dead login, cooldown after a timeout, none after recovery", { timeout: 600_000 }, async () => {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  try {
    const cred = t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const otherCooldown = Date.now() + 45 * 60_000;
    t.writeStore("main", {
      version: 1,
      profiles: {
        [ID]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt },
        "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() },
      },
      usageStats: { "anthropic:manual": { cooldownUntil: otherCooldown, errorCount: 3 } },
    });
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ refreshTimeout: "1s" }));
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    try {
      await d.waitForEvent("needs_login", 30_000);
      const dead = await modelsStatus(gateway, t.stateDir, t.home);
      const ours = unusable(dead).find((u) => u.profileId === ID);
      assert.deepEqual([ours?.kind, ours?.reason], ["disabled", "auth"], JSON.stringify(unusable(dead)));
      assert.deepEqual(unusable(dead).find((u) => u.profileId === "anthropic:manual")?.until, otherCooldown);

      t.writeCredentials();
      await d.waitForEvent("recovered", 30_000);
      const healthy = await modelsStatus(gateway, t.stateDir, t.home);
      assert.deepEqual(unusable(healthy).map((u) => u.profileId), ["anthropic:manual"]);
      assert.equal(unusable(healthy)[0]!.until, otherCooldown, "another profile's cooldown is untouched");
    } finally {
      await d.stop();
    }

    // A temporary failure (claude hangs): a cooldown, which the gateway reports without a reason.
    writeFileSync(path.join(control, "mode"), "slow");
    t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const d2 = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    try {
      await d2.waitForEvent("cooldown.marked", 30_000);
      const cooling = await modelsStatus(gateway, t.stateDir, t.home);
      const ours = unusable(cooling).find((u) => u.profileId === ID);
      assert.equal(ours?.kind, "cooldown");
      assert.equal(ours?.reason, undefined);
    } finally {
      await d2.stop();
    }
  } finally {
    t.cleanup();
  }
});
