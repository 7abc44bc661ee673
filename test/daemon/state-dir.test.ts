/**
 * One real daemon and its one state dir (no `stateDirs`), not a gateway's yet when it starts: named and missing,
 * named and empty, or none at all. It says so once, keeps running, makes nothing, and its watch picks the gateway
 * up as soon as one is there, as it does for each of `stateDirs`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, type LogRecord } from "../helpers/daemon.js";
import { leakedTokens, makeHome, type TestHome } from "../helpers/env.js";
import { canMount } from "../helpers/mount.js";
import { snapshotTree } from "../helpers/tree.js";

const ID = "anthropic:claude-cli";
/** Schedules that never fire during a test: only a watch can make the daemon look again. */
const NEVER = "0 0 1 1 *";

function writeConfig(t: TestHome, config: object): string {
  const file = path.join(t.root, "config.json");
  writeFileSync(file, JSON.stringify({ logLevel: "debug", resyncCron: NEVER, refreshCheckCron: NEVER, ...config }));
  return file;
}

const tokenIn = (stateDir: string, id = "main") =>
  JSON.parse(readFileSync(path.join(stateDir, "agents", id, "agent", "auth-profiles.json"), "utf8")).profiles[ID]
    ?.token as string | undefined;

/** Makes the gateway's `main` in `stateDir` and waits until the daemon has synced it, seen through its watch. */
async function gatewayAppears(d: DaemonProcess, stateDir: string): Promise<void> {
  const from = d.records.length;
  mkdirSync(path.join(stateDir, "agents", "main", "agent"), { recursive: true });
  const inside = (r: LogRecord) => String(r.file).startsWith(stateDir + path.sep);
  // The schedules never fire and the credentials stay as they are: only the state dir's watch asks for this pass.
  await d.waitFor((r) => r.event === "watch.handled" && inside(r), 30_000, from);
  const found = await d.waitFor((r) => r.event === "state_dir.found", 30_000, from);
  assert.equal(found.msg, `state dir ${stateDir} found`);
  assert.equal(found.level, "info");
  await d.waitFor((r) => r.event === "sync.written" && r.agent === "main", 30_000, from);
}

test("daemon, --state-dir missing at start: said once, nothing made while it holds no gateway, watched", async () => {
  const t = makeHome();
  const stateDir = path.join(t.root, "volumes", "gw");
  t.writeCredentials();
  const d = new DaemonProcess(t, ["--config", writeConfig(t, {}), "--state-dir", stateDir]);
  try {
    const ready = await d.waitForEvent("daemon.ready");
    await d.waitForIdle(d.records.indexOf(ready));
    const missing = d.events("state_dir.missing");
    assert.deepEqual(
      missing.map((r) => r.msg),
      [`state dir ${stateDir} (from --state-dir / config stateDir) is not an existing folder; check the path`],
    );

    // There now, but empty: a new credential asks for a pass, which says once that it holds no gateway yet.
    mkdirSync(stateDir, { recursive: true });
    let from = d.records.length;
    t.writeCredentials();
    const empty = await d.waitFor((r) => r.event === "state_dir.missing", 30_000, from);
    assert.match(empty.msg, new RegExp(`^state dir ${stateDir} holds no gateway yet \\(`));
    await d.waitForIdle(d.records.indexOf(empty));
    // Another pass over the same problem adds no line.
    from = d.records.length;
    const cred = t.writeCredentials();
    await d.waitFor((r) => r.event === "source.changed", 30_000, from);
    await d.waitForIdle(from);
    assert.equal(d.events("state_dir.missing").length, 2);
    assert.deepEqual(snapshotTree(stateDir), {}, "nothing made in a state dir that holds no gateway");
    assert.equal(d.child.exitCode, null, "still running");

    await gatewayAppears(d, stateDir);
    assert.equal(tokenIn(stateDir), cred.accessToken);
  } finally {
    await d.stop();
  }
  assert.deepEqual(leakedTokens(d.stdout + d.stderr, t.planted), []);
  t.cleanup();
});

test("daemon, no state dir at all: said once, and ~/.openclaw is watched until a gateway makes it", async () => {
  const t = makeHome();
  rmSync(t.stateDir, { recursive: true });
  const cred = t.writeCredentials();
  const d = new DaemonProcess(t, ["--config", writeConfig(t, {})]);
  try {
    const ready = await d.waitForEvent("daemon.ready");
    await d.waitForIdle(d.records.indexOf(ready));
    const missing = d.events("state_dir.missing");
    assert.equal(missing.length, 1);
    assert.match(missing[0]!.msg, /^no Moltbot state dir found/);
    await gatewayAppears(d, t.stateDir);
    assert.equal(tokenIn(t.stateDir), cred.accessToken);
  } finally {
    await d.stop();
  }
  assert.deepEqual(leakedTokens(d.stdout + d.stderr, t.planted), []);
  t.cleanup();
});

test(
  "daemon, --state-dir on an empty mount point: the volume mounted after start is served, and watched anew",
  { skip: canMount() ? false : "needs bind mounts (root with CAP_SYS_ADMIN)" },
  async () => {
    const t = makeHome();
    const stateDir = path.join(t.root, "mnt");
    const volume = path.join(t.root, "volume");
    mkdirSync(stateDir);
    mkdirSync(path.join(volume, "agents", "main", "agent"), { recursive: true });
    t.writeCredentials();
    const d = new DaemonProcess(t, ["--config", writeConfig(t, {}), "--state-dir", stateDir]);
    let mounted = false;
    try {
      const ready = await d.waitForEvent("daemon.ready");
      await d.waitForIdle(d.records.indexOf(ready));
      assert.match(d.events("state_dir.missing")[0]!.msg, new RegExp(`^state dir ${stateDir} holds no gateway yet`));
      assert.deepEqual(snapshotTree(stateDir), {}, "nothing made under the mount point");
      execFileSync("mount", ["--bind", volume, stateDir]);
      mounted = true;
      // A mount is no file event, and the schedules never fire: a new credential asks for the pass that finds it.
      let from = d.records.length;
      const cred = t.writeCredentials();
      await d.waitFor((r) => r.event === "state_dir.found", 30_000, from);
      await d.waitFor((r) => r.event === "sync.written" && r.agent === "main", 30_000, from);
      assert.equal(tokenIn(volume), cred.accessToken, "written into the volume");
      await d.waitFor((r) => r.event === "watch.renewed" && r.stateDir === stateDir, 30_000, from);
      // Only the new watch can see this agent: the first one watches the folder beneath the mount.
      from = d.records.length;
      mkdirSync(path.join(stateDir, "agents", "work", "agent"), { recursive: true });
      await d.waitFor((r) => r.event === "sync.written" && r.agent === "work", 30_000, from);
      assert.equal(tokenIn(volume, "work"), cred.accessToken);
    } finally {
      await d.stop();
      if (mounted) execFileSync("umount", [stateDir]);
    }
    assert.deepEqual(leakedTokens(d.stdout + d.stderr, t.planted), []);
    t.cleanup();
  },
);
