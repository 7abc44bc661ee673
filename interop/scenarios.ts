/**
 * The interop scenarios, run against each real gateway version: after our sync, marking and recovery, the
 * gateway's own `models status --json` must show exactly what we meant, and everything else as it was.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
    // Long enough for the daemon's start and the first run's 1 s timeout on a loaded runner (4 s left only a
    // second or two), so the first failure is always seen while the token still works.
    const expiring = t.writeCredentials({ expiresAt: Date.now() + 8_000 });
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

/**
 * Two Claude logins (`logins`), one profile each, both in the gateway's `auth.order.anthropic`; the work login's
 * `claude` fails: the gateway lists both, holds the failed one unusable and the other usable.
 */
export async function loginsScenario(gateway: Gateway, generation: Generation): Promise<void> {
  const t = makeHome();
  installFakeClaude(t, "refresh");
  try {
    generation.prepare(t);
    const personal = path.join(t.root, "claude-personal");
    const work = path.join(t.root, "claude-work");
    const ids = { personal: "anthropic:personal", work: "anthropic:work" };
    for (const dir of [personal, work]) {
      mkdirSync(dir);
      t.claudeDir = dir;
      t.writeCredentials({ expiresAt: Date.now() - 60_000 });
    }
    writeFileSync(path.join(work, "mode"), "fail");
    const configFile = path.join(t.root, "config.json");
    const logins = [
      { claudeConfigDir: personal, profileId: ids.personal },
      { claudeConfigDir: work, profileId: ids.work },
    ];
    writeFileSync(configFile, JSON.stringify({ logins }));
    const gatewayConfig = path.join(t.stateDir, "openclaw.json");
    const existing = existsSync(gatewayConfig) ? JSON.parse(readFileSync(gatewayConfig, "utf8")) : {};
    const order = { anthropic: [ids.work, ids.personal] };
    writeFileSync(gatewayConfig, JSON.stringify({ ...existing, auth: { ...existing.auth, order } }));

    const sync = await runCli(["sync", "--config", configFile], t.env);
    assert.equal(sync.code, 1, sync.stdout + sync.stderr);
    assert.match(sync.stderr, /anthropic:work: anthropic:work is unusable in main/);
    assert.doesNotMatch(sync.stderr, /anthropic:personal is unusable/);
    const status = await modelsStatus(gateway, t.stateDir, t.home);
    const listed = oauthProfiles(status).map((p) => p.profileId);
    assert.ok(listed.includes(ids.personal) && listed.includes(ids.work), JSON.stringify(listed));
    const bad = unusable(status);
    const failed = bad.find((u) => u.profileId === ids.work);
    assert.deepEqual([failed?.kind, failed?.reason], ["disabled", "auth"], JSON.stringify(bad));
    assert.equal(
      bad.find((u) => u.profileId === ids.personal),
      undefined,
      "personal is usable",
    );
    const fresh = oauthProfiles(status).find((p) => p.profileId === ids.personal);
    assert.ok(fresh && fresh.expiresAt! > Date.now() + 7 * 3_600_000, JSON.stringify(fresh));
  } finally {
    t.cleanup();
  }
}
