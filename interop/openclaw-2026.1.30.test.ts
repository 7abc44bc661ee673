/** Interop with openclaw@2026.1.30, the last Moltbot-era code: one `auth-profiles.json`, usageStats inline. */
import { before, test } from "node:test";
import { type Gateway, installGateway } from "./gateway.js";
import { type Generation, cooldownScenario, loginsScenario, syncOutageScenario, syncScenario } from "./scenarios.js";

let gateway: Gateway;
before(() => {
  gateway = installGateway("2026.1.30");
});

const jsonV1: Generation = {
  prepare: () => undefined,
  plantOther: (t, profiles, cooldownUntil) =>
    t.writeStore("main", {
      version: 1,
      profiles,
      usageStats: { "anthropic:manual": { cooldownUntil, errorCount: 2 } },
    }),
};

test(
  "openclaw@2026.1.30 sees the synced profile and setup-token, and keeps every profile and cooldown that was there",
  { timeout: 600_000 },
  () => syncScenario(gateway, jsonV1),
);

test("openclaw@2026.1.30 sees the outage and the recovery through `sync`, as cron runs it", { timeout: 600_000 }, () =>
  syncOutageScenario(gateway, jsonV1),
);

test(
  "openclaw@2026.1.30 honours our markings: disabled (auth) after a dead login, none after recovery, cooldown after a timeout",
  { timeout: 600_000 },
  () => cooldownScenario(gateway, jsonV1),
);

test(
  "openclaw@2026.1.30 with two logins in auth.order.anthropic: the failed one is unusable, the other usable",
  { timeout: 600_000 },
  () => loginsScenario(gateway, jsonV1),
);
