/**
 * Scenario 7, a local attacker: values that another user (or a hostile program) controls, each aimed at
 * something root or the admin does with them. Everything printed goes to the secrecy scan too.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../test/helpers/daemon.js";
import { fakeBin } from "../test/helpers/fake-bin.js";
import { leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../test/helpers/env.js";
import { type Outcome, row } from "./harness.js";

const NAME = "7 local attacker";
/** What a terminal acts on, other than the newline that ends each printed line. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

interface Case {
  name: string;
  required: string;
  /** Returns what happened, in the words of `required` when all is well. */
  run(t: TestHome, outputs: string[]): Promise<string>;
}

async function install(t: TestHome, agentDir: string, outputs: string[]): Promise<string> {
  const bin = fakeBin(t.root, { systemctl: "", loginctl: "echo no" });
  t.env.PATH = `${bin.dir}:${t.env.PATH}`;
  const gatewayConfig = { agents: { list: [{ id: "ops", agentDir }] } };
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(gatewayConfig));
  const unitDir = path.join(t.root, "units");
  const args = ["service", "install", "--system", os.userInfo().username, "--unit-dir", unitDir];
  const r = await runCli(["--state-dir", t.stateDir, ...args], t.env);
  outputs.push(r.stdout, r.stderr);
  if (r.code === 0) return "INSTALLED";
  return existsSync(unitDir) ? "refused, but wrote files" : "refused, nothing written";
}

const CASES: Case[] = [
  {
    name: "agentDir with a newline and a directive (service install --system)",
    required: "refused, nothing written",
    // A folder that exists: discovery already drops an agentDir outside the state dir that does not.
    run: (t, outputs) => {
      const evil = path.join(t.root, "x\nExecStartPre=/bin/touch /tmp/pwned");
      mkdirSync(evil, { recursive: true });
      return install(t, evil, outputs);
    },
  },
  {
    name: "agentDir owned by another user (service install --system)",
    required: "refused, nothing written",
    run: (t, outputs) => {
      const foreign = path.join(t.root, "foreign");
      mkdirSync(foreign);
      chownSync(foreign, 65534, 65534);
      return install(t, foreign, outputs);
    },
  },
  {
    name: "agent folder named with newline, ESC, C1, bidi (sync, status, logs)",
    required: "no raw control character",
    run: async (t, outputs) => {
      installFakeClaude(t);
      t.writeCredentials();
      const forged = "x\nERROR needs_login forged\u001b[2J\u009b31m\u202e";
      mkdirSync(t.agentDir(forged), { recursive: true });
      const log = path.join(t.root, "daemon.log");
      writeFileSync(log, `${JSON.stringify({ level: "warn", time: Date.now(), event: "sync.failed", msg: forged })}\n`);
      const texts = [];
      for (const args of [["sync"], ["status"], ["logs", "--file", log]]) {
        const r = await runCli(args, t.env);
        outputs.push(r.stdout, r.stderr);
        texts.push(r.stdout + r.stderr);
      }
      const raw = texts.some((text) => RAW_CONTROL.test(text) || /^ERROR needs_login/m.test(text));
      return raw ? "RAW" : "no raw control character";
    },
  },
  {
    name: "doctor's fix for a path holding $(…) and ; (pasted into sh)",
    required: "ran nothing",
    run: async (t, outputs) => {
      installFakeClaude(t);
      t.writeCredentials();
      t.env.XDG_STATE_HOME = path.join(t.root, "s $(touch pwned); touch pwned2");
      const runtime = path.join(t.env.XDG_STATE_HOME, "moltbot-auth-sync");
      mkdirSync(runtime, { recursive: true });
      writeFileSync(path.join(runtime, "daemon.pid"), `${spawnSync(process.execPath, ["-e", "0"]).pid}\n`);
      const r = await runCli(["doctor", "--json"], t.env);
      outputs.push(r.stdout, r.stderr);
      const fix: string = JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === "pid file").fix;
      execFileSync("sh", ["-c", fix.split("   (")[0]!], { cwd: t.root });
      const ran = existsSync(path.join(t.root, "pwned")) || existsSync(path.join(t.root, "pwned2"));
      return ran ? "RAN IT" : "ran nothing";
    },
  },
  {
    name: "stale pid file naming a live unrelated process (token set)",
    required: "process alive",
    run: async (t, outputs) => {
      const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
      try {
        const runtime = path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync");
        mkdirSync(runtime, { recursive: true });
        writeFileSync(path.join(runtime, "daemon.pid"), `${sleeper.pid}\n`);
        const token = randomToken();
        t.planted.push(token);
        const r = await runCli(["token", "set"], t.env, { input: token });
        outputs.push(r.stdout, r.stderr);
        await new Promise((resolve) => setTimeout(resolve, 300));
        const alive = sleeper.exitCode === null && sleeper.signalCode === null;
        return alive ? "process alive" : `KILLED (${sleeper.signalCode})`;
      } finally {
        sleeper.kill("SIGKILL");
      }
    },
  },
  {
    name: "claude prints tokens across its 2,000-char tail (daemon, state, status)",
    required: "no piece of a token",
    run: async (t, outputs) => {
      const control = installFakeClaude(t, "leak");
      t.writeCredentials({ expiresAt: Date.now() + 60_000 });
      const d = new DaemonProcess(t);
      try {
        await d.waitForEvent("refresh.failed", 20_000);
      } finally {
        await d.stop();
      }
      const status = await runCli(["status", "--json"], t.env);
      const state = readFileSync(path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync", "state.json"), "utf8");
      outputs.push(d.stdout, d.stderr, status.stdout, state);
      t.planted.push(...fakeClaudeTokens(control));
      const leaks = leakedTokens(d.stdout + d.stderr + status.stdout + state, t.planted);
      return leaks.length === 0 ? "no piece of a token" : `${leaks.length} LEAKED`;
    },
  },
];

export async function localAttacker(): Promise<Outcome> {
  const outcome: Outcome = { rows: [], outputs: [], planted: [] };
  for (const c of CASES) {
    const t = makeHome();
    try {
      const value = await c.run(t, outcome.outputs);
      outcome.rows.push(row(NAME, c.name, value, c.required, value === c.required));
    } finally {
      outcome.planted.push(...t.planted);
      t.cleanup();
    }
  }
  return outcome;
}
