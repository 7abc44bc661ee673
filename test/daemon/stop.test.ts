/**
 * Special files never hang the daemon, and SIGTERM stops it whatever is in flight. Its own deadline is 4.5 s
 * (measured by the fault suite); here a stop only has to end well before a hang would: a loaded machine may
 * start the timers late, never by 15 s.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DaemonProcess, installFakeClaude } from "../helpers/daemon.js";
import { makeHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
const NOT_HUNG_MS = 15_000;
const STUCK = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "helpers", "stuck-thread.js");

async function timedStop(d: DaemonProcess): Promise<{ ms: number; code: number | null; signal: string | null }> {
  const started = Date.now();
  const { code, signal } = await d.stop();
  return { ms: Date.now() - started, code, signal };
}

test("a FIFO as the gateway config: the daemon gets ready, syncs the agents on disk, stops on SIGTERM", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const cred = t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    execFileSync("mkfifo", [path.join(t.stateDir, "openclaw.json")]);
    const d = new DaemonProcess(t);
    await d.waitForEvent("daemon.ready", 20_000);
    const warning = await d.waitForEvent("gateway_config.invalid", 10_000);
    assert.match(warning.msg, /openclaw\.json .*is a FIFO, not a regular file/);
    await d.waitFor(() => t.readStore("main").profiles[ID]?.token === cred.accessToken, 10_000);
    const stop = await timedStop(d);
    assert.ok(stop.ms < NOT_HUNG_MS, `stopped in ${stop.ms} ms`);
    assert.equal(stop.code, 0, d.stderr);
  } finally {
    t.cleanup();
  }
});

test("a FIFO as the split store's sidecar lock, with schedules faster than the lock timeout: ready all the same", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    writeFileSync(path.join(t.agentDir("main"), "auth-state.json"), JSON.stringify({ version: 1 }));
    execFileSync("mkfifo", [`${t.storePath("main")}.lock`]);
    const config = path.join(t.root, "config.json");
    writeFileSync(
      config,
      JSON.stringify({ lockTimeout: "1s", resyncCron: "* * * * * *", refreshCheckCron: "* * * * * *" }),
    );
    const d = new DaemonProcess(t, ["--config", config]);
    // Each pass waits 1 s for the lock while a resync is queued every second: ready must not wait for an
    // empty queue, which never comes.
    await d.waitForEvent("daemon.ready", 20_000);
    assert.equal(d.events("store.locked").length, 1, "the locked store is logged once");
    const stop = await timedStop(d);
    assert.ok(stop.ms < NOT_HUNG_MS, `stopped in ${stop.ms} ms`);
  } finally {
    t.cleanup();
  }
});

test("SIGTERM stops a daemon with a file request stuck on a FIFO, at its deadline", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    t.writeCredentials();
    const fifo = path.join(t.root, "stuck.fifo");
    execFileSync("mkfifo", [fifo]);
    t.env.MAS_TEST_STUCK_FIFO = fifo;
    t.env.NODE_OPTIONS = `--import ${pathToFileURL(STUCK).href}`;
    const d = new DaemonProcess(t);
    await d.waitForEvent("daemon.ready", 20_000);
    const stop = await timedStop(d);
    assert.ok(stop.ms < NOT_HUNG_MS, `stopped in ${stop.ms} ms (exit ${stop.code ?? stop.signal})`);
    assert.equal(d.events("daemon.stopped").length, 1);
    assert.match(d.stdout, /file request\(s\) still blocked; exiting with SIGKILL/);
  } finally {
    t.cleanup();
  }
});
