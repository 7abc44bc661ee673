/**
 * The interop scenarios, run against each real gateway version: after our sync, marking and recovery, the
 * gateway's own `models status --json` must show exactly what we meant, and everything else as it was.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DaemonProcess, installFakeClaude } from "../test/helpers/daemon.js";
import { makeHome, randomToken, runCli, type TestHome } from "../test/helpers/env.js";
import { type Gateway, modelsStatus } from "./gateway.js";

export const ID = "anthropic:claude-cli";

/** How a state dir of this gateway generation holds another profile's cooldown. */
export interface Generation {
  /** Prepares the state dir (e.g. the version the gateway records in its config). */
  prepare(t: TestHome): void;
  /** Writes `anthropic:manual` with a cooldown where this gateway keeps it. */
  plantOther(t: TestHome, profiles: Record<string, unknown>, cooldownUntil: number): void;
}

type Unusable = Array<{ profileId: string; kind: string; reason?: string; until: number }>;
const unusable = (status: any): Unusable => status.auth.unusableProfiles;
const oauthProfiles = (status: any) =>
  status.auth.oauth.profiles as Array<{ profileId: string; type: string; expiresAt?: number; status: string }>;

export async function syncScenario(gateway: Gateway, generation: Generation): Promise<void> {
  const t = makeHome();
  try {
    generation.prepare(t);
    const cred = t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
    const otherCooldown = Date.now() + 20 * 60_000;
    generation.plantOther(
      t,
      { "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() } },
      otherCooldown,
    );
    const setupToken = randomToken();
    assert.equal(
      (await runCli(["token", "set", "--profile", "anthropic:setup"], t.env, { input: setupToken })).code,
      0,
    );
    // One that has already expired, as a setup-token a year old would be: the gateway must not use it.
    const oldToken = randomToken();
    const setOld = await runCli(["token", "set", "--profile", "anthropic:old", "--expires-in", "1ms"], t.env, {
      input: oldToken,
    });
    assert.equal(setOld.code, 0, setOld.stderr);
    const vault = JSON.parse(
      readFileSync(path.join(t.home, ".config", "moltbot-auth-sync", "setup-tokens.json"), "utf8"),
    );
    const sync = await runCli(["sync"], t.env);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);

    const status = await modelsStatus(gateway, t.stateDir, t.home);
    const profiles = oauthProfiles(status);
    const ours = profiles.find((p) => p.profileId === ID);
    assert.ok(ours, `our profile is listed: ${JSON.stringify(profiles)}`);
    assert.equal(ours.type, "token");
    assert.equal(ours.expiresAt, cred.expiresAt);
    assert.equal(profiles.find((p) => p.profileId === "anthropic:manual")?.status, "static");
    const setup = profiles.find((p) => p.profileId === "anthropic:setup");
    assert.deepEqual(
      [setup?.type, setup?.status, setup?.expiresAt],
      ["token", "ok", vault.tokens["anthropic:setup"].expires],
      "the setup-token profile is a token whose expiry the gateway sees",
    );
    const old = profiles.find((p) => p.profileId === "anthropic:old");
    assert.deepEqual(
      [old?.type, old?.status],
      ["token", "expired"],
      "an expired setup-token is expired to the gateway",
    );
    assert.deepEqual(
      unusable(status).map((u) => [u.profileId, u.kind, u.until]),
      [["anthropic:manual", "cooldown", otherCooldown]],
    );
  } finally {
    t.cleanup();
  }
}

export async function cooldownScenario(gateway: Gateway, generation: Generation): Promise<void> {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  try {
    generation.prepare(t);
    const cred = t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const otherCooldown = Date.now() + 45 * 60_000;
    generation.plantOther(
      t,
      {
        [ID]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt },
        "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() },
      },
      otherCooldown,
    );
    const config = path.join(t.root, "config.json");
    writeFileSync(config, JSON.stringify({ refreshTimeout: "1s" }));
    const d = new DaemonProcess(t, ["--config", config]);
    try {
      await d.waitForEvent("needs_login", 30_000);
      const dead = await modelsStatus(gateway, t.stateDir, t.home);
      const ours = unusable(dead).find((u) => u.profileId === ID);
      assert.deepEqual([ours?.kind, ours?.reason], ["disabled", "auth"], JSON.stringify(unusable(dead)));
      assert.equal(unusable(dead).find((u) => u.profileId === "anthropic:manual")?.until, otherCooldown);

      t.writeCredentials();
      await d.waitForEvent("recovered", 30_000);
      const healthy = await modelsStatus(gateway, t.stateDir, t.home);
      assert.deepEqual(
        unusable(healthy).map((u) => [u.profileId, u.until]),
        [["anthropic:manual", otherCooldown]],
        "only the other profile's planted cooldown remains",
      );
    } finally {
      await d.stop();
    }

    // A temporary failure (claude hangs): nothing is marked while the token works; once it has expired
    // unrefreshed, a cooldown, which the gateway reports without a reason.
    writeFileSync(path.join(control, "mode"), "slow");
    const expiring = t.writeCredentials({ expiresAt: Date.now() + 4_000 });
    const held = { type: "token", provider: "anthropic", token: expiring.accessToken, expires: expiring.expiresAt };
    generation.plantOther(t, { [ID]: held }, otherCooldown);
    const d2 = new DaemonProcess(t, ["--config", config]);
    try {
      await d2.waitForEvent("refresh.failed", 30_000);
      assert.equal(d2.events("cooldown.marked").length, 0, "a working token is not marked for a hanging claude");
      await d2.waitForEvent("cooldown.marked", 30_000);
      assert.ok(Date.now() >= expiring.expiresAt);
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
}

/** The outage and recovery through `sync`, as cron runs it: an expired login that claude cannot refresh, then can. */
export async function syncOutageScenario(gateway: Gateway, generation: Generation): Promise<void> {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  try {
    generation.prepare(t);
    const cred = t.writeCredentials({ expiresAt: Date.now() - 60_000 });
    const otherCooldown = Date.now() + 45 * 60_000;
    const profiles = {
      [ID]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt },
      "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() },
    };
    generation.plantOther(t, profiles, otherCooldown);
    const failed = await runCli(["sync"], t.env);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stderr, /anthropic:claude-cli is unusable in main: .*Fix: on this host, run `claude` and then/);
    const dead = await modelsStatus(gateway, t.stateDir, t.home);
    const ours = unusable(dead).find((u) => u.profileId === ID);
    assert.deepEqual([ours?.kind, ours?.reason], ["disabled", "auth"], JSON.stringify(unusable(dead)));

    writeFileSync(path.join(control, "mode"), "refresh");
    const recovered = await runCli(["sync"], t.env);
    assert.equal(recovered.code, 0, recovered.stdout + recovered.stderr);
    assert.match(recovered.stdout, /refresh: claude refreshed the login/);
    const healthy = await modelsStatus(gateway, t.stateDir, t.home);
    const left = unusable(healthy).map((u) => [u.profileId, u.until]);
    assert.deepEqual(left, [["anthropic:manual", otherCooldown]], "only the other profile's cooldown remains");
    const listed = oauthProfiles(healthy).find((p) => p.profileId === ID);
    assert.ok(listed && listed.expiresAt! > Date.now() + 7 * 3_600_000, JSON.stringify(listed));
  } finally {
    t.cleanup();
  }
}
