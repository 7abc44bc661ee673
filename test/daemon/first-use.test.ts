/** What a new user saw of the daemon first: what its first pass did, and that `npm start` stops with a signal. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess } from "../helpers/daemon.js";
import { REPO, withHome } from "../helpers/env.js";

const stateFile = (home: string) => path.join(home, ".local", "state", "moltbot-auth-sync", "state.json");

test("daemon.ready and the state file say what the first pass did; sync.written names the agent once", () =>
  withHome(async (t) => {
    t.writeCredentials();
    mkdirSync(t.agentDir("work"), { recursive: true });
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ logLevel: "debug" }));
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    try {
      const ready = await d.waitForEvent("daemon.ready");
      assert.match(ready.msg, /^first sync done in \d+ ms: synced 2 agents \(main, work\)$/);
      const written = d.events("sync.written").map((r) => r.msg);
      assert.equal(written.length, 2);
      for (const msg of written) assert.match(msg, /^(main|work): anthropic:claude-cli added sk-ant-oat01-…\S{4}$/);
      // The pass after arming finds everything in step; the summary must still tell what the daemon did.
      await d.waitForIdle(d.records.indexOf(ready));
    } finally {
      await d.stop();
    }
    const state = JSON.parse(readFileSync(stateFile(t.home), "utf8"));
    assert.equal(state.lastSyncSummary, "synced 2 agents (main, work)");
  }));

test("daemon.ready with no login says nothing was synced and why", () =>
  withHome(async (t) => {
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ logLevel: "debug" }));
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    try {
      const ready = await d.waitForEvent("daemon.ready");
      assert.match(ready.msg, /: nothing synced: not logged in$/);
    } finally {
      await d.stop();
    }
  }));

test("npm start stopped with SIGTERM stops the daemon too", () =>
  withHome(async (t) => {
    t.writeCredentials();
    const npm = spawn("npm", ["start", "--silent"], { cwd: REPO, env: t.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    npm.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    const exited = new Promise((resolve) => npm.once("exit", resolve));
    for (let i = 0; i < 200 && !out.includes('"daemon.ready"'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /daemon\.ready/);
    const pid = Number(readFileSync(path.join(t.home, ".local", "state", "moltbot-auth-sync", "daemon.pid"), "utf8"));
    npm.kill("SIGTERM");
    await exited;
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
    }
    if (alive) process.kill(pid, "SIGKILL");
    assert.equal(alive, false, "the daemon outlived npm start");
  }));
