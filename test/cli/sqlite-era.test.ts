import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, installFakeClaude } from "../helpers/daemon.js";
import { randomToken, runCli, withHome, type TestHome } from "../helpers/env.js";
import { snapshotTree } from "../helpers/tree.js";

/** A state dir as `openclaw doctor --fix` (2026.9.6) leaves it: SQLite state, the JSON store archived, the version recorded. */
function sqliteEraState(t: TestHome): void {
  mkdirSync(path.join(t.stateDir, "state"), { recursive: true });
  writeFileSync(path.join(t.stateDir, "state", "openclaw.sqlite"), "SQLite format 3\0");
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify({ meta: { lastTouchedVersion: "2026.9.6" } }, null, 2));
  mkdirSync(t.agentDir("main"), { recursive: true });
  writeFileSync(path.join(t.agentDir("main"), "auth-profiles.json.migrated-2026-11-25T11-05-04.804Z-1135d21f"), JSON.stringify({ version: 1, profiles: {} }));
}

test("SQLite-era gateway: sync refuses in one line, naming the version and the gateway command, and changes nothing", () =>
  withHome(async (t) => {
    t.writeCredentials();
    sqliteEraState(t);
    const before = snapshotTree(t.stateDir);
    for (const args of [["sync"], ["sync", "--dry-run"], ["cooldown", "clear"], ["status"]]) {
      const r = await runCli(args, t.env);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.match(r.stderr, /OpenClaw 2026\.9\.6 keeps auth in SQLite .* reuses the Claude CLI login natively; nothing written\. Use the gateway instead: openclaw models auth login --provider anthropic --method cli --set-default/);
    }
    assert.deepEqual(snapshotTree(t.stateDir), before);
  }));

test("SQLite-era gateway: the daemon says so once and never writes", () =>
  withHome(async (t) => {
    installFakeClaude(t);
    t.writeCredentials();
    sqliteEraState(t);
    const before = snapshotTree(t.stateDir);
    const d = new DaemonProcess(t);
    try {
      await d.waitForEvent("store.unsupported");
      t.writeCredentials({ accessToken: randomToken() });
      mkdirSync(path.join(t.root, "trigger"));
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(d.events("store.unsupported").length, 1);
      assert.equal(d.events("sync.written").length, 0);
    } finally {
      await d.stop();
    }
    assert.deepEqual(snapshotTree(t.stateDir), before);
  }));

test("storeFormat forces a format; doctor and status show what was chosen and why", () =>
  withHome(async (t) => {
    t.writeCredentials();
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify({ meta: { lastTouchedVersion: "2026.4.22" } }));
    let r = await runCli(["sync"], t.env);
    assert.match(r.stdout, /split store \(the gateway config records version 2026\.4\.22\)/);
    const config = path.join(t.root, "c.json");
    writeFileSync(config, JSON.stringify({ storeFormat: "json-v1" }));
    r = await runCli(["--config", config, "status"], t.env);
    assert.match(r.stdout, /^store {3}json-v1, gateway 2026\.4\.22 \(forced by config storeFormat\)$/m);
  }));
