import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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

/** Writes down every catchable signal it gets, after a first line saying it listens. */
const RECORDER = `const fs = require("node:fs");
for (const s of ["SIGHUP", "SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGWINCH"])
  process.on(s, () => fs.appendFileSync(process.argv[1], s + "\\n"));
fs.appendFileSync(process.argv[1], "listening\\n");
setInterval(() => undefined, 1e9);`;

interface Bystander {
  child: ChildProcess;
  /** The signals it got since the last call, proven complete by one it is sent now (SIGWINCH) coming back. */
  signalsSinceLast(): Promise<string[]>;
}

/** A live process that is not our daemon; `name` goes into its command line. */
async function bystander(t: TestHome, name: string): Promise<Bystander> {
  const log = path.join(t.root, `${name}-${Math.random().toString(36).slice(2)}.signals`);
  const child = spawn(process.execPath, ["-e", RECORDER, log, name], { stdio: "ignore" });
  const lines = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);
  const until = async (done: () => boolean, what: string) => {
    // Polls for what must come; a process killed on the way is an answer too.
    while (!done()) {
      if (child.exitCode !== null || child.signalCode !== null) assert.fail(`the bystander died (${child.signalCode})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return what;
  };
  await until(() => lines().includes("listening"), "listening");
  let seen = 1;
  return {
    child,
    async signalsSinceLast() {
      // Signals reach it in the order they were sent: once ours is written down, every earlier one is too.
      child.kill("SIGWINCH");
      await until(() => lines().slice(seen).includes("SIGWINCH"), "barrier");
      const got = lines().slice(seen);
      seen += got.length;
      return got.filter((s) => s !== "SIGWINCH");
    },
  };
}

test("a stale pid file naming a live unrelated process: token set, status, doctor and run spare it", async () => {
  const t = makeHome();
  const sleeper = await bystander(t, "sleep");
  // Same pid as the file says, and a command line that mentions us, but not the start time written down.
  const impostor = await bystander(t, "moltbot-auth-sync");
  try {
    installFakeClaude(t);
    t.writeCredentials();
    for (const [child, content] of [
      [sleeper, `${sleeper.child.pid}\n`],
      [impostor, `${impostor.child.pid}\n1\n`],
    ] as const) {
      writeFileSync(pidFile(t), content);
      const token = randomToken();
      t.planted.push(token);
      const set = await runCli(["token", "set"], t.env, { input: token });
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /run `moltbot-auth-sync sync`, or start the daemon/);
      assert.deepEqual(await child.signalsSinceLast(), [], "the unrelated process got no signal");
      const status = JSON.parse((await runCli(["status", "--json"], t.env)).stdout);
      assert.equal(status.daemon.running, false);
      const doctor = JSON.parse((await runCli(["doctor", "--json"], t.env)).stdout);
      const check = doctor.checks.find((c: { name: string }) => c.name === "pid file");
      assert.match(check.detail, new RegExp(`names pid ${child.child.pid}, which is not a moltbot-auth-sync daemon`));
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
    assert.deepEqual(await sleeper.signalsSinceLast(), []);
    assert.deepEqual(await impostor.signalsSinceLast(), []);
  } finally {
    sleeper.child.kill("SIGKILL");
    impostor.child.kill("SIGKILL");
    t.cleanup();
  }
});
