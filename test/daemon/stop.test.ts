/**
 * Special files never hang the daemon, and SIGTERM stops it within 5 s whatever is in flight
 * (issue 11, section 6).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DaemonProcess, installFakeClaude } from "../helpers/daemon.js";
import { makeHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
const STUCK = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "helpers", "stuck-thread.js");

async function timedStop(d: DaemonProcess): Promise<{ ms: number; code: number | null; signal: string | null }> {
  const started = Date.now();
  const { code, signal } = await d.stop();
  return { ms: Date.now() - started, code, signal };
}

test("a FIFO as the gateway config: the daemon gets ready, syncs the agents on disk, and stops on SIGTERM", async () => {
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
    assert.ok(stop.ms < 5_000, `stopped in ${stop.ms} ms`);
    assert.equal(stop.code, 0, d.stderr);
  } finally {
    t.cleanup();
  }
});

test("SIGTERM stops a daemon with a file request stuck on a FIFO within 5 s", async () => {
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
    assert.ok(stop.ms < 5_000, `stopped in ${stop.ms} ms (exit ${stop.code ?? stop.signal})`);
    assert.equal(d.events("daemon.stopped").length, 1);
    assert.match(d.stdout, /file request\(s\) still blocked; exiting with SIGKILL/);
  } finally {
    t.cleanup();
  }
});
