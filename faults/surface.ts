/**
 * Scenario 7, a local attacker: values that another user (or a hostile program) controls, each aimed at
 * something root or the admin does with them. Everything printed goes to the secrecy scan too.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import os from "node:os";
import path from "node:path";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../test/helpers/daemon.js";
import { fakeBin } from "../test/helpers/fake-bin.js";
import { BIN, leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../test/helpers/env.js";
import { identityOf } from "../src/fs/identity.js";
import { readAgentCells, writeAgentDb, writeStateDb } from "../test/helpers/sqlite-store.js";
import { type Outcome, row } from "./harness.js";

const NAME = "7 local attacker";
const asRoot = process.getuid?.() === 0;
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

/** Hands `dir` and all below it to uid 65534 (nobody): the tree of another user, as root finds it. */
function giveAway(dir: string): void {
  lchownSync(dir, 65534, 65534);
  if (!lstatSync(dir).isDirectory()) return;
  for (const name of readdirSync(dir)) giveAway(path.join(dir, name));
}

/** A root-owned folder standing in for one of the host's (/etc, /var/lib/…), with one file in it. */
function rootFolder(t: TestHome, name: string, file?: string): string {
  const dir = path.join(t.root, name);
  mkdirSync(dir);
  if (file) writeFileSync(path.join(dir, file), "root's\n");
  return dir;
}

/** The user's runtime folder (XDG_STATE_HOME, which sudo keeps) holding `held-locks`. */
const userRuntime = (t: TestHome) => path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync");

async function syncAsRoot(t: TestHome, outputs: string[]): Promise<void> {
  const r = await runCli(["sync"], t.env);
  outputs.push(r.stdout, r.stderr);
}

/** A program a config names: it leaves `marker` behind when run. */
function markingProgram(t: TestHome, name: string): { program: string; marker: string } {
  const program = path.join(t.home, "bin", name);
  const marker = path.join(t.root, `ran-${name}`);
  mkdirSync(path.dirname(program), { recursive: true });
  writeFileSync(program, `#!/bin/sh\ntouch '${marker}'\nexit 1\n`);
  chmodSync(program, 0o755);
  return { program, marker };
}

/** Flips `component` between its folder and a symlink to `foreign` until the returned stop is called. */
function flipper(component: string, foreign: string): { stop: () => Promise<void> } {
  // The link and the folder each hold the name about half the time, so a check that sees the folder and a write
  // that walks the path again a moment later can meet the link.
  const code = `const fs = require("node:fs"); const [c, f] = process.argv.slice(1);
    fs.symlinkSync(f, c + ".link");
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      try { fs.renameSync(c, c + ".real"); fs.renameSync(c + ".link", c) } catch { continue }
      Atomics.wait(pause, 0, 0, 0.3);
      try { fs.renameSync(c, c + ".link"); fs.renameSync(c + ".real", c) } catch {}
      Atomics.wait(pause, 0, 0, 0.3);
    }`;
  const child = spawn(process.execPath, ["-e", code, component, foreign], { stdio: "ignore" });
  return {
    stop: () =>
      new Promise((resolve) => {
        const restore = () => {
          rmSync(`${component}.link`, { force: true });
          if (lstatSync(component, { throwIfNoEntry: false })?.isSymbolicLink()) rmSync(component);
          if (existsSync(`${component}.real`)) {
            rmSync(component, { recursive: true, force: true });
            renameSync(`${component}.real`, component);
          }
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return restore();
        child.on("exit", restore);
        child.kill("SIGKILL");
      }),
  };
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
  {
    name: "one Claude folder twice in logins, once through a symlink (daemon)",
    required: "refused in one line",
    run: async (t, outputs) => {
      installFakeClaude(t);
      t.writeCredentials();
      const link = path.join(t.home, "claude-link");
      symlinkSync(t.claudeDir, link);
      const logins = [
        { claudeConfigDir: t.claudeDir, profileId: "anthropic:claude-cli" },
        { claudeConfigDir: link, profileId: "anthropic:work" },
      ];
      const config = path.join(t.root, "config.json");
      writeFileSync(config, JSON.stringify({ logins }));
      const d = new DaemonProcess(t, ["--config", config]);
      try {
        const first = await Promise.race([d.exited, d.waitForEvent("daemon.ready", 20_000)]);
        outputs.push(d.stdout, d.stderr);
        if (!("code" in first)) return "ACCEPTED: two logins of one folder";
        const code = String(first.code);
        const lines = d.stderr.trim().split("\n");
        return code !== "0" && lines.length === 1 && /same folder/.test(lines[0]!)
          ? "refused in one line"
          : `exit ${code}: ${d.stderr.trim().slice(0, 120)}`;
      } finally {
        await d.stop();
      }
    },
  },
  {
    name: "Host header of a DNS-rebinding page (metrics /healthz, /metrics)",
    required: "421 each, nothing served; localhost served",
    run: async (t, outputs) => {
      installFakeClaude(t);
      t.writeCredentials();
      const config = path.join(t.root, "config.json");
      writeFileSync(config, JSON.stringify({ metrics: { listen: "127.0.0.1:0" } }));
      const d = new DaemonProcess(t, ["--config", config]);
      try {
        const port = String((await d.waitForEvent("metrics.listening", 20_000)).port);
        const seen: string[] = [];
        for (const [host, route] of [
          ["rebind.example", "/healthz"],
          [`rebind.example:${port}`, "/metrics"],
          [`127.0.0.1.nip.io:${port}`, "/healthz"],
        ]) {
          const r = await httpGet(Number(port), route!, host!);
          outputs.push(r.body);
          seen.push(`${r.code}${r.body.includes(t.home) || r.body.includes("# HELP") ? " SERVED" : ""}`);
        }
        const local = await httpGet(Number(port), "/healthz", `localhost:${port}`);
        const ok = seen.every((s) => s === "421") && local.body.includes('"healthy"');
        return ok ? "421 each, nothing served; localhost served" : `${seen.join(", ")}; localhost ${local.code}`;
      } finally {
        await d.stop();
      }
    },
  },
  {
    name: "metrics port taken first by another user's process (daemon, status)",
    required: "kept syncing, status says not serving",
    run: async (t, outputs) => {
      installFakeClaude(t);
      const cred = t.writeCredentials();
      const squatter = spawn(
        process.execPath,
        ["-e", "require('net').createServer().listen(0,'127.0.0.1',function(){console.log(this.address().port)})"],
        { stdio: ["ignore", "pipe", "ignore"], ...(asRoot ? { uid: 65534, gid: 65534 } : {}) },
      );
      try {
        const port = await new Promise<string>((resolve) =>
          squatter.stdout.once("data", (c: Buffer) => resolve(c.toString("utf8"))),
        );
        const config = path.join(t.root, "config.json");
        writeFileSync(config, JSON.stringify({ metrics: { listen: `127.0.0.1:${port.trim()}` } }));
        const d = new DaemonProcess(t, ["--config", config]);
        let synced = false;
        try {
          const first = await Promise.race([d.exited, d.waitForEvent("daemon.ready", 20_000)]);
          if ("code" in first) {
            outputs.push(d.stdout, d.stderr);
            return `daemon exited ${String(first.code)}`;
          }
          synced =
            existsSync(t.storePath("main")) && readFileSync(t.storePath("main"), "utf8").includes(cred.accessToken);
          const status = await runCli(["--config", config, "status"], t.env);
          outputs.push(status.stdout, status.stderr);
          const says = /metrics.*not serving/.test(status.stdout);
          return synced && says ? "kept syncing, status says not serving" : `synced ${synced}, status says ${says}`;
        } finally {
          await d.stop();
          outputs.push(d.stdout, d.stderr);
        }
      } finally {
        squatter.kill("SIGKILL");
      }
    },
  },
  {
    name: "token set from /dev/zero (token set)",
    required: "refused in one line, exit 1",
    run: async (t, outputs) => {
      const zero = openSync("/dev/zero", "r");
      try {
        const r = spawnSync(process.execPath, [BIN, "token", "set"], {
          env: t.env,
          stdio: [zero, "pipe", "pipe"],
          timeout: 20_000,
          encoding: "utf8",
        });
        outputs.push(r.stdout, r.stderr);
        if (r.signal) return `still reading after 20 s (killed by ${r.signal})`;
        const lines = r.stderr.trim().split("\n");
        return r.status === 1 && lines.length === 1 ? "refused in one line, exit 1" : `exit ${r.status}: ${lines[0]}`;
      } finally {
        closeSync(zero);
      }
    },
  },
  {
    name: "token with NUL, ESC and BEL inside (token set)",
    required: "refused in one line, nothing stored, token not echoed",
    run: async (t, outputs) => {
      const results: string[] = [];
      for (const bad of ["\u0000", "\u001b[2J", "\u0007"]) {
        const token = randomToken();
        t.planted.push(token);
        const r = await runCli(["token", "set"], t.env, { input: `${token.slice(0, 40)}${bad}${token.slice(40)}\n` });
        outputs.push(r.stdout, r.stderr);
        const lines = r.stderr.trim().split("\n");
        const echoed = leakedTokens(r.stdout + r.stderr, [token]).length > 0;
        results.push(
          r.code !== 0 && lines.length === 1 && !echoed ? "refused" : `exit ${r.code}${echoed ? " ECHOED" : ""}`,
        );
      }
      const status = await runCli(["token", "status"], t.env);
      outputs.push(status.stdout, status.stderr);
      const stored = status.code === 0;
      return results.every((r) => r === "refused") && !stored
        ? "refused in one line, nothing stored, token not echoed"
        : `${results.join(", ")}${stored ? "; STORED" : ""}`;
    },
  },
  {
    name: "HOME holding U+FFFE or U+FFFF (service install --manager launchd)",
    required: "refused in one line, nothing written",
    run: async (t, outputs) => {
      const out: string[] = [];
      for (const odd of ["\ufffe", "\uffff"]) {
        const home = path.join(t.root, `home${odd}`);
        mkdirSync(home, { recursive: true });
        const r = await runCli(["service", "install", "--manager", "launchd", "--dry-run"], { ...t.env, HOME: home });
        outputs.push(r.stdout, r.stderr);
        const lines = r.stderr.trim().split("\n");
        if (r.code !== 0 && lines.length === 1 && /home/.test(lines[0]!)) out.push("refused");
        else
          out.push(r.stdout.includes(odd) ? `exit ${r.code}, RENDERED ${escape(odd)}` : `exit ${r.code}: ${lines[0]}`);
      }
      return out.every((o) => o === "refused") ? "refused in one line, nothing written" : out.join("; ");
    },
  },
  {
    name: "agent folder named with a comma, newline and ESC (onEvent AGENTS, REASON)",
    required: "one line each, comma escaped",
    run: async (t, outputs) => {
      const control = installFakeClaude(t, "fail");
      t.writeCredentials({ expiresAt: Date.now() + 60_000 });
      const forged = "a,b\nEVENT=forged\u001b[2J";
      t.writeStore(forged, { version: 1, profiles: {} });
      const hookOut = path.join(t.root, "hook.out");
      const hook = path.join(t.root, "hook.sh");
      writeFileSync(hook, `#!/bin/sh\nprintf '%s\\n' "$AGENTS" >> "${hookOut}"\n`, { mode: 0o755 });
      const config = path.join(t.root, "config.json");
      writeFileSync(config, JSON.stringify({ onEvent: [hook] }));
      const d = new DaemonProcess(t, ["--config", config]);
      try {
        await d.waitForEvent("refresh.failed", 20_000);
        await d.waitForEvent("hook.done", 20_000).catch(() => undefined);
      } finally {
        await d.stop();
        outputs.push(d.stdout, d.stderr);
        t.planted.push(...fakeClaudeTokens(control));
      }
      const agents = existsSync(hookOut) ? readFileSync(hookOut, "utf8").split("\n")[0]! : "";
      const raw = RAW_CONTROL.test(agents) || !agents.includes("a\\,b");
      return raw ? `AGENTS ${JSON.stringify(agents)}` : "one line each, comma escaped";
    },
  },
  {
    name: "hung onEvent hook with a child of its own (daemon stop)",
    required: "whole group ended",
    run: async (t, outputs) => {
      const control = installFakeClaude(t, "fail");
      t.writeCredentials({ expiresAt: Date.now() + 60_000 });
      const pids = path.join(t.root, "hook.pids");
      const hook = path.join(t.root, "hook.sh");
      writeFileSync(hook, `#!/bin/sh\nsleep 300 &\necho "$$ $!" >> "${pids}"\nwait\n`, { mode: 0o755 });
      const config = path.join(t.root, "config.json");
      writeFileSync(config, JSON.stringify({ onEvent: [hook] }));
      const d = new DaemonProcess(t, ["--config", config]);
      try {
        await d.waitForEvent("refresh.failed", 20_000);
        for (let i = 0; i < 200 && !existsSync(pids); i++) await new Promise((r) => setTimeout(r, 50));
      } finally {
        await d.stop();
        outputs.push(d.stdout, d.stderr);
        t.planted.push(...fakeClaudeTokens(control));
      }
      if (!existsSync(pids)) return "the hook never ran";
      const all = readFileSync(pids, "utf8").split(/\s+/).filter(Boolean).map(Number);
      // A SIGKILL lands on the kernel's time, and an orphan may stay a zombie where nothing reaps: give them 5 s.
      const running = () => all.filter(isRunning);
      for (let i = 0; i < 100 && running().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      const alive = running();
      for (const pid of alive) process.kill(pid, "SIGKILL");
      return alive.length === 0 ? "whole group ended" : `${alive.length} of ${all.length} LEFT RUNNING`;
    },
  },
  {
    name: "SQLite lock folder pre-created by another user (status, doctor)",
    required: "both name its owner and the fix",
    run: async (t, outputs) => {
      if (!asRoot) return "both name its owner and the fix";
      // The user `games` (uid 5): the real /tmp/openclaw-state-locks-0 is root's and other tests use it, and
      // doctor needs a uid with a passwd entry.
      const uid = 5;
      const dir = `/tmp/openclaw-state-locks-${uid}`;
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, 65534, 65534);
      try {
        writeStateDb(t);
        writeAgentDb(t, "main");
        execFileSync("chown", ["-R", `${uid}:${uid}`, t.root]);
        const texts: string[] = [];
        const codes: number[] = [];
        for (const args of [["status"], ["doctor"]]) {
          const r = await runCli(args, t.env, { uid, gid: uid });
          outputs.push(r.stdout, r.stderr);
          texts.push(r.stdout);
          codes.push(r.code);
        }
        const names = (text: string) => text.includes("nobody (uid 65534)") && text.includes(`rm -r -- ${dir}`);
        // No SQLite write can happen: status is "unusable" (1), doctor fails (1).
        return texts.every(names) && codes.every((c) => c === 1)
          ? "both name its owner and the fix"
          : `status ${names(texts[0]!)} exit ${codes[0]}, doctor ${names(texts[1]!)} exit ${codes[1]}`;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "root with a user's held-locks symlinked to a root folder (sync)",
    required: "root's files kept",
    run: async (t, outputs) => {
      installFakeClaude(t);
      t.writeCredentials();
      const host = rootFolder(t, "etc-standin", "passwd");
      mkdirSync(userRuntime(t), { recursive: true });
      symlinkSync(host, path.join(userRuntime(t), "held-locks"));
      giveAway(t.home);
      await syncAsRoot(t, outputs);
      return existsSync(path.join(host, "passwd")) ? "root's files kept" : "ROOT'S FILES DELETED";
    },
  },
  {
    name: "root with a user's journal note naming an empty root folder (sync)",
    required: "root's folder kept",
    run: async (t, outputs) => {
      installFakeClaude(t);
      t.writeCredentials();
      const host = rootFolder(t, "empty-root-folder");
      const now = lstatSync(host, { bigint: true });
      const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
      const note = {
        pid: dead,
        lockDir: host,
        identity: identityOf(now),
        mtimesMs: [Number(now.mtimeNs / 1_000_000n)],
      };
      mkdirSync(path.join(userRuntime(t), "held-locks"), { recursive: true });
      writeFileSync(path.join(userRuntime(t), "held-locks", "planted.json"), JSON.stringify(note));
      giveAway(t.home);
      await syncAsRoot(t, outputs);
      return existsSync(host) ? "root's folder kept" : "ROOT'S FOLDER REMOVED";
    },
  },
  {
    name: "root with a user's config naming claudePath and refresh commands (sync, doctor)",
    required: "ran none",
    run: async (t, outputs) => {
      t.writeCredentials({ expiresAt: Date.now() + 60_000 });
      const programs = ["claude", "refresh", "fallback"].map((name) => markingProgram(t, name));
      const config = {
        claudePath: programs[0]!.program,
        refreshCommand: [programs[1]!.program],
        fallbackRefreshCommand: [programs[2]!.program],
      };
      mkdirSync(path.join(t.env.XDG_CONFIG_HOME!, "moltbot-auth-sync"), { recursive: true });
      writeFileSync(path.join(t.env.XDG_CONFIG_HOME!, "moltbot-auth-sync", "config.json"), JSON.stringify(config));
      giveAway(t.home);
      for (const args of [["sync", "--force"], ["doctor"]]) {
        const r = await runCli(args, t.env);
        outputs.push(r.stdout, r.stderr);
      }
      const ran = programs.filter((p) => existsSync(p.marker)).length;
      return ran === 0 ? "ran none" : `RAN ${ran} OF 3`;
    },
  },
  {
    name: "root with a user's agents/x/agent symlinked to a root folder (sync)",
    required: "nothing written",
    run: async (t, outputs) => {
      installFakeClaude(t);
      t.writeCredentials();
      const host = rootFolder(t, "etc-standin");
      mkdirSync(path.join(t.stateDir, "agents", "x"), { recursive: true });
      symlinkSync(host, t.agentDir("x"));
      giveAway(t.home);
      await syncAsRoot(t, outputs);
      return readdirSync(host).length === 0 ? "nothing written" : `WROTE ${readdirSync(host).join(", ")}`;
    },
  },
  {
    name: "root's setup-token with a user's SQLite agent database (token set, sync)",
    required: "not written there",
    run: async (t, outputs) => {
      writeAgentDb(t, "main", { store: { version: 1, profiles: {} } });
      giveAway(t.home);
      // Root's own runtime and config folders, so only the database's tree is in question.
      t.env.XDG_STATE_HOME = path.join(t.root, "root-state");
      t.env.XDG_CONFIG_HOME = path.join(t.root, "root-config");
      const token = randomToken("oat");
      t.planted.push(token);
      const set = await runCli(["--state-dir", t.stateDir, "token", "set"], t.env, { input: token });
      const sync = await runCli(["--state-dir", t.stateDir, "sync"], t.env);
      outputs.push(set.stdout, set.stderr, sync.stdout, sync.stderr);
      return JSON.stringify(readAgentCells(t, "main")).includes(token) ? "ROOT'S TOKEN WRITTEN" : "not written there";
    },
  },
  {
    name: "root's stateDir with a component flipped to a user's folder (60 syncs)",
    required: "0 of 60 written there",
    run: async (t, outputs) => {
      installFakeClaude(t);
      t.writeStore("ops", { version: 1, profiles: {} });
      const foreign = path.join(t.root, "foreign");
      cpSync(path.join(t.stateDir, "agents"), foreign, { recursive: true });
      giveAway(foreign);
      const landed = path.join(foreign, "ops", "agent", "auth-profiles.json");
      const flip = flipper(path.join(t.stateDir, "agents"), foreign);
      let written = 0;
      try {
        for (let i = 0; i < 60; i++) {
          t.writeCredentials();
          await syncAsRoot(t, outputs);
          if (lstatSync(landed).uid === 0) written++;
          rmSync(landed, { force: true });
          writeFileSync(landed, JSON.stringify({ version: 1, profiles: {} }));
          lchownSync(landed, 65534, 65534);
        }
      } finally {
        await flip.stop();
      }
      return `${written} of 60 written there`;
    },
  },
];

/** Alive and not a zombie. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** One GET with the given Host header. */
function httpGet(port: number, route: string, host: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: route, headers: { host } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

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
