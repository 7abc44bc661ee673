/**
 * A FIFO, a device or an oversized file in place of a file we read gives one clear line and an exit, never a
 * hang or a memory blow-up (issue 11, section 6).
 */
import assert from "node:assert/strict";
import { mkfifoSync } from "../helpers/mkfifo.js";
import { symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readRegularFile } from "../../src/fs/read-file.js";
import { runCli, withHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
/** Far below "for good": each command must be done well within this. */
const TIMEOUT_MS = 20_000;

test("the one reader: regular files only, checked on the descriptor, capped, no symlink where none belongs", () =>
  withHome(async (t) => {
    const fifo = path.join(t.root, "fifo");
    mkfifoSync(fifo);
    await assert.rejects(readRegularFile(fifo), /fifo is a FIFO, not a regular file/);
    await assert.rejects(readRegularFile("/dev/zero"), /\/dev\/zero is a character device, not a regular file/);
    await assert.rejects(readRegularFile(t.root), /is a directory, not a regular file/);
    const big = path.join(t.root, "big");
    writeFileSync(big, Buffer.alloc(2048, 0x61));
    await assert.rejects(readRegularFile(big, { maxBytes: 1024 }), /big is 2048 bytes, more than 1024/);
    assert.equal((await readRegularFile(big, { maxBytes: 2048 })).length, 2048);
    const link = path.join(t.root, "link");
    symlinkSync(big, link);
    assert.equal((await readRegularFile(link, { maxBytes: 4096 })).length, 2048);
    await assert.rejects(readRegularFile(link, { followSymlinks: false }), /link is a symlink/);
  }));

test("a FIFO as the gateway config: sync, status and doctor each finish and name it", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    mkfifoSync(path.join(t.stateDir, "openclaw.json"));
    for (const command of ["sync", "status", "doctor"]) {
      const started = Date.now();
      const r = await runCli([command], t.env, { timeoutMs: TIMEOUT_MS });
      assert.ok(Date.now() - started < TIMEOUT_MS, `${command} hung`);
      const output = r.stdout + r.stderr;
      assert.match(output, /openclaw\.json .*is a FIFO, not a regular file/, `${command}: ${output}`);
    }
    assert.equal(t.readStore("main").profiles[ID].token, cred.accessToken, "the agents on disk were still synced");
  }));

test("/dev/zero as the gateway config is refused, not read", () =>
  withHome(async (t) => {
    t.writeCredentials();
    symlinkSync("/dev/zero", path.join(t.stateDir, "openclaw.json"));
    const r = await runCli(["sync"], t.env, { timeoutMs: TIMEOUT_MS });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /openclaw\.json .*is a character device, not a regular file/);
  }));

test("a FIFO as the split store's sidecar lock: sync gives up after the lock timeout with one line", () =>
  withHome(async (t) => {
    t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    writeFileSync(path.join(t.agentDir("main"), "auth-state.json"), JSON.stringify({ version: 1 }));
    mkfifoSync(`${t.storePath("main")}.lock`);
    const config = path.join(t.root, "config.json");
    writeFileSync(config, JSON.stringify({ lockTimeout: "2s" }));
    const started = Date.now();
    const r = await runCli(["--config", config, "sync"], t.env, { timeoutMs: TIMEOUT_MS });
    assert.ok(Date.now() - started < TIMEOUT_MS, "sync hung");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /main +failed +.*auth-profiles\.json is locked by another process \(gave up after 2s\)/);
  }));

test("a FIFO as the credentials or as our config: the command ends with one line", () =>
  withHome(async (t) => {
    mkfifoSync(path.join(t.claudeDir, ".credentials.json"));
    const r = await runCli(["sync"], t.env, { timeoutMs: TIMEOUT_MS });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\.credentials\.json is a FIFO, not a regular file/);
    const config = path.join(t.root, "config.json");
    mkfifoSync(config);
    const r2 = await runCli(["--config", config, "status"], t.env, { timeoutMs: TIMEOUT_MS });
    assert.equal(r2.code, 78);
    assert.match(r2.stderr, /config\.json is a FIFO, not a regular file/);
  }));
