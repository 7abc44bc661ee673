/**
 * One real daemon serving several gateways (config `stateDirs`): a state dir that is missing at start is reported,
 * makes /healthz unhealthy and is picked up once it appears; SIGHUP adds one; a rotation reaches every gateway; the
 * logs, the metrics and the hook keep two gateways' `main` apart.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { gatewayAt, leakedTokens, makeHome, type TestHome } from "../helpers/env.js";
import { canMount } from "../helpers/mount.js";

const ID = "anthropic:claude-cli";

function writeConfig(t: TestHome, config: unknown): string {
  const file = path.join(t.root, "config.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

async function until<T>(check: () => Promise<T> | T, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const tokenIn = (g: TestHome, id = "main") => {
  try {
    return g.readStore(id).profiles[ID]?.token as string | undefined;
  } catch {
    return undefined;
  }
};

test("daemon, stateDirs: a missing state dir is reported and picked up when it appears; SIGHUP adds one", async () => {
  const t = makeHome();
  const control = installFakeClaude(t);
  const [a, b, c, d] = ["gw-a", "gw-b", "gw-c", "gw-d"].map((name) => gatewayAt(t, path.join(t.root, "volumes", name)));
  for (const g of [a!, b!, d!]) mkdirSync(g.agentDir("main"), { recursive: true });
  const stateDirs = [a!.stateDir, b!.stateDir, c!.stateDir];
  const file = writeConfig(t, { stateDirs, metrics: { listen: "127.0.0.1:0" } });
  const cred = t.writeCredentials();
  const daemon = new DaemonProcess(t, ["--config", file]);
  try {
    const listening = await daemon.waitForEvent("metrics.listening");
    const base = `http://127.0.0.1:${String(listening.port)}`;
    await daemon.waitForEvent("daemon.ready", 30_000);
    assert.deepEqual(daemon.events("daemon.started")[0]!.stateDirs, stateDirs);
    assert.equal(tokenIn(a!), cred.accessToken);
    assert.equal(tokenIn(b!), cred.accessToken);
    // Two gateways' main, each written and logged with its own state dir.
    const written = daemon.events("sync.written").map((r) => [r.agent, r.stateDir]);
    assert.deepEqual(written.sort(), [
      ["main", a!.stateDir],
      ["main", b!.stateDir],
    ]);
    const missing = daemon.events("state_dir.missing");
    assert.equal(missing.length, 1, JSON.stringify(missing));
    assert.equal(missing[0]!.stateDir, c!.stateDir);
    const ready = daemon.events("daemon.ready")[0]!;
    assert.match(String(ready.summary), new RegExp(`main \\(${a!.stateDir}\\)`));

    const unhealthy = await until(async () => {
      const res = await fetch(`${base}/healthz`);
      const body = JSON.parse(await res.text());
      assert.equal(res.status, 503);
      return body;
    });
    assert.ok(String(unhealthy.why).includes(c!.stateDir), unhealthy.why);
    assert.deepEqual(
      unhealthy.gateways.map((g: { stateDir: { dir: string } }) => g.stateDir.dir),
      stateDirs,
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const g of [a!, b!]) {
      const line = `moltbot_auth_sync_profile_usable{agent="main",state_dir="${g.stateDir}",profile="${ID}"`;
      assert.ok(metrics.includes(line), `${line}\n${metrics}`);
    }
    for (const [g, up] of [
      [a!, 1],
      [b!, 1],
      [c!, 0],
    ] as const) {
      assert.ok(metrics.includes(`moltbot_auth_sync_gateway_up{state_dir="${g.stateDir}"} ${up}\n`), metrics);
    }

    // The volume is mounted after start: picked up without a restart.
    const from = daemon.records.length;
    mkdirSync(c!.agentDir("main"), { recursive: true });
    const found = await daemon.waitFor(
      (r) => r.event === "state_dir.found" && r.stateDir === c!.stateDir,
      20_000,
      from,
    );
    assert.equal(found.level, "info");
    await until(() => assert.equal(tokenIn(c!), cred.accessToken));
    await until(async () => assert.equal((await fetch(`${base}/healthz`)).status, 200));
    const after = await (await fetch(`${base}/metrics`)).text();
    assert.ok(after.includes(`moltbot_auth_sync_gateway_up{state_dir="${c!.stateDir}"} 1\n`), after);

    // SIGHUP with one more state dir: served at once.
    writeConfig(t, { stateDirs: [...stateDirs, d!.stateDir], metrics: { listen: "127.0.0.1:0" } });
    daemon.child.kill("SIGHUP");
    await daemon.waitForEvent("daemon.reloaded");
    await until(() => assert.equal(tokenIn(d!), cred.accessToken));

    // A rotation reaches every gateway, the late ones too (their watches and the credentials' watch work).
    const next = t.writeCredentials();
    for (const g of [a!, b!, c!, d!]) await until(() => assert.equal(tokenIn(g), next.accessToken));
    // A gateway's own store change is seen through its own watch: a new agent in d is synced.
    mkdirSync(d!.agentDir("work"), { recursive: true });
    await until(() => assert.equal(tokenIn(d!, "work"), next.accessToken));
    const added = await daemon.waitFor((r) => r.event === "agent.added" && r.agent === "work");
    assert.equal(added.stateDir, d!.stateDir);
  } finally {
    await daemon.stop();
  }
  assert.deepEqual(leakedTokens(daemon.stdout + daemon.stderr, [...t.planted, ...fakeClaudeTokens(control)]), []);
  t.cleanup();
});

test("daemon, stateDirs: a dead login marks every gateway's main; the hook runs once per state dir", async () => {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  const [a, b] = ["gw-a", "gw-b"].map((name) => gatewayAt(t, path.join(t.root, name)));
  for (const g of [a!, b!]) mkdirSync(g.agentDir("main"), { recursive: true });
  mkdirSync(b!.agentDir("work"), { recursive: true });
  const out = path.join(t.root, "hook.log");
  const hook = path.join(t.root, "hook.sh");
  writeFileSync(hook, `#!/bin/sh\necho "$EVENT|$STATE_DIR|$AGENTS" >> "${out}"\n`, { mode: 0o755 });
  const file = writeConfig(t, { stateDirs: [a!.stateDir, b!.stateDir], onEvent: [hook], refreshTimeout: "20s" });
  t.writeCredentials({ expiresAt: Date.now() + 60_000 });
  const daemon = new DaemonProcess(t, ["--config", file]);
  try {
    const marked = await daemon.waitForEvent("cooldown.marked", 30_000);
    assert.deepEqual(marked.agents, ["main", "main", "work"]);
    assert.deepEqual(marked.stateDirs, [a!.stateDir, b!.stateDir, b!.stateDir]);
    assert.match(marked.msg, new RegExp(`main \\(${a!.stateDir}\\), main \\(${b!.stateDir}\\), work`));
    await daemon.waitForEvent("needs_login", 30_000);
    const lines = await until(() => {
      const text = readFileSync(out, "utf8");
      const needs = text
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("needs_login|"));
      assert.equal(needs.length, 2, text);
      return needs.sort();
    });
    assert.deepEqual(lines, [`needs_login|${a!.stateDir}|main`, `needs_login|${b!.stateDir}|main,work`].sort());
    for (const g of [a!, b!]) assert.equal(g.readStore("main").usageStats[ID].disabledReason, "auth");
  } finally {
    await daemon.stop();
  }
  assert.deepEqual(leakedTokens(daemon.stdout + daemon.stderr, [...t.planted, ...fakeClaudeTokens(control)]), []);
  t.cleanup();
});

const RESYNC_EVERY_S = 15;

test(
  "daemon, stateDirs: a volume mounted over an empty state dir after start is served, and watched anew",
  { skip: canMount() ? false : "needs bind mounts (root with CAP_SYS_ADMIN)" },
  async () => {
    const t = makeHome();
    const control = installFakeClaude(t);
    const a = gatewayAt(t, path.join(t.root, "gw-a"));
    const c = gatewayAt(t, path.join(t.root, "gw-c"));
    const volume = gatewayAt(t, path.join(t.root, "volume"));
    mkdirSync(a.agentDir("main"), { recursive: true });
    mkdirSync(c.stateDir);
    mkdirSync(volume.agentDir("main"), { recursive: true });
    // A mount is not a file event: the resync finds the volume, then its own watch must see what it holds.
    const resyncCron = `*/${RESYNC_EVERY_S} * * * * *`;
    // Debug, for watch.renewed: the new watch is ready before the agent below is made.
    const file = writeConfig(t, { stateDirs: [a.stateDir, c.stateDir], resyncCron, logLevel: "debug" });
    const cred = t.writeCredentials();
    const daemon = new DaemonProcess(t, ["--config", file]);
    let mounted = false;
    try {
      await daemon.waitForEvent("daemon.ready", 30_000);
      const missing = daemon.events("state_dir.missing").find((r) => r.stateDir === c.stateDir);
      assert.match(String(missing?.msg), /holds no gateway yet/);
      assert.equal(existsSync(path.join(c.stateDir, "agents")), false, "nothing made under the mount point");
      execFileSync("mount", ["--bind", volume.stateDir, c.stateDir]);
      mounted = true;
      const found = (r: { event: string; stateDir?: unknown }) =>
        r.event === "state_dir.found" && r.stateDir === c.stateDir;
      await daemon.waitFor(found, (RESYNC_EVERY_S + 15) * 1000);
      await until(() => assert.equal(tokenIn(c), cred.accessToken));
      assert.equal(tokenIn(volume), cred.accessToken, "written into the volume");
      await daemon.waitFor((r) => r.event === "watch.renewed" && r.stateDir === c.stateDir, 30_000);
      // Well before the next resync: only the new watch can see this agent appear.
      const at = Date.now();
      mkdirSync(c.agentDir("work"), { recursive: true });
      await until(() => assert.equal(tokenIn(c, "work"), cred.accessToken), (RESYNC_EVERY_S / 2) * 1000);
      assert.ok(Date.now() - at < (RESYNC_EVERY_S / 2) * 1000);
    } finally {
      await daemon.stop();
      if (mounted) execFileSync("umount", [c.stateDir]);
    }
    assert.deepEqual(leakedTokens(daemon.stdout + daemon.stderr, [...t.planted, ...fakeClaudeTokens(control)]), []);
    t.cleanup();
  },
);
