/**
 * Interop with openclaw@2026.4.22: credentials in `auth-profiles.json`, runtime state in `auth-state.json`.
 * The state dir records the version as the gateway does (`meta.lastTouchedVersion`), so we detect `split`.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { makeHome, randomToken, runCli } from "../test/helpers/env.js";
import { type Gateway, installGateway, modelsStatus } from "./gateway.js";
import { type Generation, ID, cooldownScenario, syncOutageScenario, syncScenario } from "./scenarios.js";

let gateway: Gateway;
before(() => {
  gateway = installGateway("2026.4.22");
});

const split: Generation = {
  prepare: (t) =>
    writeFileSync(
      path.join(t.stateDir, "openclaw.json"),
      JSON.stringify({ meta: { lastTouchedVersion: "2026.4.22" } }),
    ),
  plantOther: (t, profiles, cooldownUntil) => {
    t.writeStore("main", { version: 1, profiles });
    writeFileSync(
      path.join(t.agentDir("main"), "auth-state.json"),
      JSON.stringify({ version: 1, usageStats: { "anthropic:manual": { cooldownUntil, errorCount: 2 } } }),
    );
  },
};

test(
  "openclaw@2026.4.22 sees the synced profile and setup-token, and keeps every profile and cooldown that was there",
  { timeout: 600_000 },
  () => syncScenario(gateway, split),
);

test("openclaw@2026.4.22 sees the outage and the recovery through `sync`, as cron runs it", { timeout: 600_000 }, () =>
  syncOutageScenario(gateway, split),
);

test(
  "openclaw@2026.4.22 honours our markings in auth-state.json: disabled, recovered, cooldown",
  { timeout: 600_000 },
  () => cooldownScenario(gateway, split),
);

test(
  "openclaw@2026.4.22: auth-state.json wins over inline usageStats for the same profile, which is where we write",
  { timeout: 600_000 },
  async () => {
    const t = makeHome();
    try {
      split.prepare(t);
      const inline = Date.now() + 10 * 60_000;
      const state = Date.now() + 30 * 60_000;
      t.writeStore("main", {
        version: 1,
        profiles: { [ID]: { type: "token", provider: "anthropic", token: randomToken() } },
        usageStats: { [ID]: { cooldownUntil: inline } },
      });
      writeFileSync(
        path.join(t.agentDir("main"), "auth-state.json"),
        JSON.stringify({ version: 1, usageStats: { [ID]: { cooldownUntil: state } } }),
      );
      const status = await modelsStatus(gateway, t.stateDir, t.home);
      assert.deepEqual(
        status.auth.unusableProfiles.map((u: { until: number }) => u.until),
        [state],
      );
      const cleared = await runCli(["cooldown", "clear"], t.env);
      assert.equal(cleared.code, 0, cleared.stdout + cleared.stderr);
      const after = await modelsStatus(gateway, t.stateDir, t.home);
      assert.deepEqual(after.auth.unusableProfiles, [], "clearing in auth-state.json hides the inline cooldown too");
    } finally {
      t.cleanup();
    }
  },
);
