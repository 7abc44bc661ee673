/**
 * Interop with the real gateway, openclaw@2026.1.30 (the Moltbot-era JSON v1 store): after our sync, the
 * gateway itself must list our profile with the source's expiry, and still list everything that was there.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
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
    assert.deepEqual(
      status.auth.unusableProfiles.map((u: { profileId: string; kind: string; until: number }) => [u.profileId, u.kind, u.until]),
      [["anthropic:manual", "cooldown", otherCooldown]],
    );
  } finally {
    t.cleanup();
  }
});
