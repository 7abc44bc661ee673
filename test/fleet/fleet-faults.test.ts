/**
 * Fleet mode when a host is wrong or alone: a follower that starts while etcd is down keeps its agents' token
 * unmarked; a standby whose login key does not open the fleet's credentials never stands by, and says why.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { type TestHome, leakedTokens, makeHome, runCli } from "../helpers/env.js";
import { startEtcdCluster } from "../helpers/etcd.js";

function host(
  name: string,
  endpoints: string[],
  keys: { fleet: string; login?: string },
): TestHome & { config: string } {
  const t = makeHome();
  installFakeClaude(t, "refresh");
  mkdirSync(t.agentDir("main"), { recursive: true });
  const fleet = {
    etcd: { endpoints },
    keyFile: keys.fleet,
    ...(keys.login ? { loginKeyFile: keys.login } : {}),
    host: name,
    leaseTime: "5s",
  };
  const config = path.join(t.root, "config.json");
  writeFileSync(config, JSON.stringify({ logLevel: "debug", fleet }));
  return Object.assign(t, { config });
}

function key(dir: string, name: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o600 });
  return file;
}

test("fleet: a follower started while etcd is down marks nothing, and serves the token again once etcd answers", async () => {
  const cluster = await startEtcdCluster({ members: 1 });
  const keys = makeHome();
  const fleetKey = key(keys.root, "fleet.key");
  const leader = host("lead", cluster.endpoints, { fleet: fleetKey, login: key(keys.root, "login.key") });
  const follower = host("follow", cluster.endpoints, { fleet: fleetKey });
  const login = leader.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
  const daemons: DaemonProcess[] = [];
  try {
    const l = new DaemonProcess(leader, ["--config", leader.config]);
    daemons.push(l);
    await l.waitForEvent("fleet.published", 60_000);
    let f = new DaemonProcess(follower, ["--config", follower.config]);
    daemons.push(f);
    await f.waitFor((r) => r.event === "sync.written" && r.profile === "anthropic:claude-cli", 60_000);
    await f.stop();
    await cluster.stop(0);
    f = new DaemonProcess(follower, ["--config", follower.config]);
    daemons.push(f);
    await f.waitFor((r) => r.event === "fleet.waiting" && /etcd has not answered/.test(r.msg), 60_000);
    await f.waitForEvent("daemon.ready", 60_000);
    await cluster.start(0);
    await f.waitForEvent("fleet.reachable", 60_000);
    // The fleet's token is the one the agents hold: a pass after etcd answered finds it in step.
    const from = f.records.length;
    await f.waitFor((r) => r.event === "sync.done", 60_000, from);
    for (const event of ["needs_login", "cooldown.marked"]) assert.deepEqual(f.events(event), [], event);
    const store = follower.readStore("main");
    assert.equal(store.profiles["anthropic:claude-cli"].token, login.accessToken);
    assert.equal(store.usageStats?.["anthropic:claude-cli"]?.disabledUntil, undefined);
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await cluster.close();
  }
  const planted = [...leader.planted, ...fakeClaudeTokens(path.join(leader.home, ".fake-claude"))];
  for (const d of daemons) assert.deepEqual(leakedTokens(d.stdout + d.stderr, planted), []);
  for (const t of [leader, follower, keys]) t.cleanup();
});

test("fleet: a standby whose login key does not open the fleet's credentials never stands by, and doctor names it", async () => {
  const cluster = await startEtcdCluster({ members: 1 });
  const keys = makeHome();
  const fleetKey = key(keys.root, "fleet.key");
  const leader = host("lead", cluster.endpoints, { fleet: fleetKey, login: key(keys.root, "login.key") });
  const stray = host("stray", cluster.endpoints, { fleet: fleetKey, login: key(keys.root, "other.key") });
  leader.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
  stray.writeCredentials({ expiresAt: Date.now() + 3_600_000 });
  const daemons: DaemonProcess[] = [];
  try {
    const l = new DaemonProcess(leader, ["--config", leader.config]);
    daemons.push(l);
    await l.waitForEvent("fleet.published", 60_000);
    const s = new DaemonProcess(stray, ["--config", stray.config]);
    daemons.push(s);
    await s.waitFor(
      (r) => r.event === "fleet.invalid" && /sealed with login key .* this host does not stand by/.test(r.msg),
      60_000,
    );
    // The leader goes: with no standby left, nobody leads, and the stray host is not elected.
    await l.stop();
    const doctor = await runCli(["doctor", "--config", stray.config], stray.env);
    assert.match(doctor.stdout, /FAIL +fleet login key +.*sealed with login key [0-9a-f]{12}/);
    assert.match(doctor.stdout, /WARN +fleet anthropic:claude-cli +no host refreshes it/);
    assert.deepEqual(s.events("fleet.elected"), []);
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await cluster.close();
  }
  for (const t of [leader, stray, keys]) t.cleanup();
});
