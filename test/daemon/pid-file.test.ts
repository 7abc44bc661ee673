import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { processStartTime } from "../../src/core/process-identity.js";
import { DaemonProcess, installFakeClaude } from "../helpers/daemon.js";
import { makeHome, randomToken, runCli, type TestHome } from "../helpers/env.js";

function pidFile(t: TestHome): string {
  const runtime = path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync");
  mkdirSync(runtime, { recursive: true });
  return path.join(runtime, "daemon.pid");
}

/** A live process that is not our daemon; `name` goes into its command line. */
function bystander(name = "sleep"): ChildProcess {
  return spawn("sh", ["-c", "sleep 60", name], { stdio: "ignore" });
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

test("a stale pid file naming a live unrelated process: token set, status, doctor and run spare it", async () => {
  const t = makeHome();
  const sleeper = bystander();
  // Same pid as the file says, and a command line that mentions us, but not the start time written down.
  const impostor = bystander("moltbot-auth-sync");
  try {
    installFakeClaude(t);
    t.writeCredentials();
    for (const [child, content] of [
      [sleeper, `${sleeper.pid}\n`],
      [impostor, `${impostor.pid}\n1\n`],
    ] as const) {
      writeFileSync(pidFile(t), content);
      const token = randomToken();
      t.planted.push(token);
      const set = await runCli(["token", "set"], t.env, { input: token });
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /run `moltbot-auth-sync sync`, or start the daemon/);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(alive(child), "the unrelated process got no signal");
      const status = JSON.parse((await runCli(["status", "--json"], t.env)).stdout);
      assert.equal(status.daemon.running, false);
      const doctor = JSON.parse((await runCli(["doctor", "--json"], t.env)).stdout);
      const check = doctor.checks.find((c: { name: string }) => c.name === "pid file");
      assert.match(check.detail, new RegExp(`names pid ${child.pid}, which is not a moltbot-auth-sync daemon`));
    }
    const d = new DaemonProcess(t);
    try {
      await d.waitForEvent("daemon.ready");
      const [pid, start] = readFileSync(pidFile(t), "utf8").split("\n");
      assert.equal(Number(pid), d.child.pid, "the daemon took the pid file over");
      assert.equal(start, processStartTime(d.child.pid!));
      const set = await runCli(["token", "set"], t.env, { input: randomToken() });
      assert.match(set.stdout, new RegExp(`the running daemon \\(pid ${d.child.pid}\\)`));
      await d.waitForEvent("daemon.reloaded");
    } finally {
      await d.stop();
    }
    assert.ok(alive(sleeper) && alive(impostor));
  } finally {
    sleeper.kill("SIGKILL");
    impostor.kill("SIGKILL");
    t.cleanup();
  }
});
