import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { escapeControl, shellQuote } from "../../src/core/terminal-text.js";
import { installFakeClaude } from "../helpers/daemon.js";
import { fakeBin } from "../helpers/fake-bin.js";
import { makeHome, runCli, withHome } from "../helpers/env.js";

/** Anything a terminal acts on, other than the newline that ends each printed line. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const FORGED = "x\nERROR needs_login forged\u001b[2J\u009b31m\u202eevil\u2028";

function assertTame(name: string, text: string): void {
  assert.doesNotMatch(text, RAW_CONTROL, `${name} printed a raw control character:\n${JSON.stringify(text)}`);
  assert.doesNotMatch(text, /^ERROR needs_login forged/m, `${name} let a value start a line of its own:\n${text}`);
}

test("escapeControl shows C0, DEL, C1, bidi and line separators as escapes", () => {
  const escaped = escapeControl("a\nb\tc\u001b[31m\u007f\u0085\u202e\u2028");
  assert.equal(escaped, "a\\nb\\tc\\x1b[31m\\x7f\\u0085\\u202e\\u2028");
  assert.equal(escapeControl("plain /path with spaces …"), "plain /path with spaces …");
});

test("shellQuote: bash reads back exactly the word, and nothing in it runs", () => {
  const dir = makeHome().root;
  const words = ["/plain/path", "", "it's here", "$(touch pwned)", "a;touch pwned", "`touch pwned`", "x\ny"];
  words.push("esc\u001b[2J", "\u202eflip", "back\\slash'q");
  for (const word of words) {
    const out = execFileSync("bash", ["-c", `printf %s ${shellQuote(word)}`], { cwd: dir, encoding: "utf8" });
    assert.equal(out, word, shellQuote(word));
    assert.doesNotMatch(shellQuote(word), RAW_CONTROL);
  }
  assert.equal(existsSync(path.join(dir, "pwned")), false);
});

test("sync, status (also --json) and cooldown clear escape a folder name with newline, ESC, C1 and bidi", () =>
  withHome(async (t) => {
    installFakeClaude(t);
    t.writeCredentials();
    mkdirSync(t.agentDir(FORGED), { recursive: true });
    mkdirSync(t.agentDir("main"), { recursive: true });
    for (const args of [["sync"], ["sync", "--dry-run"], ["status"], ["cooldown", "clear"]]) {
      const r = await runCli(args, t.env);
      assertTame(args.join(" "), r.stdout + r.stderr);
    }
    // JSON keeps the name exactly, with the characters JSON.stringify leaves raw escaped as \uXXXX.
    for (const args of [
      ["sync", "--json"],
      ["status", "--json"],
    ]) {
      const r = await runCli(args, t.env);
      assertTame(args.join(" "), r.stdout);
      assert.ok(
        JSON.parse(r.stdout).agents.some((a: { agent: string }) => a.agent === FORGED),
        r.stdout,
      );
    }
  }));

test("logs escapes control characters in the messages and fields it reads back", () =>
  withHome(async (t) => {
    const file = path.join(t.root, "daemon.log");
    const record = {
      level: "warn",
      time: Date.now(),
      event: "sync.failed",
      msg: `agent ${FORGED} failed`,
      agent: FORGED,
    };
    writeFileSync(file, `${JSON.stringify(record)}\n`);
    const r = await runCli(["logs", "--file", file], t.env);
    assert.equal(r.code, 0, r.stderr);
    assertTame("logs", r.stdout + r.stderr);
    assert.match(r.stdout, /agent x\\nERROR needs_login forged\\x1b\[2J/);
  }));

test("doctor's fix commands are shell-quoted: pasting one acts on the path and runs nothing in it", () =>
  withHome(async (t) => {
    installFakeClaude(t);
    t.writeCredentials();
    t.env.XDG_STATE_HOME = path.join(t.root, "state $(touch pwned); touch pwned2 'q'");
    const runtime = path.join(t.env.XDG_STATE_HOME, "moltbot-auth-sync");
    mkdirSync(runtime, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    writeFileSync(path.join(runtime, "daemon.pid"), `${dead}\n`);
    const bin = fakeBin(t.root, { systemctl: "printf 'LoadState=not-found\\nActiveState=inactive\\n'" });
    t.env.PATH = `${bin.dir}:${t.env.PATH}`;
    const text = await runCli(["doctor"], t.env);
    assertTame("doctor", text.stdout + text.stderr);
    const json = await runCli(["doctor", "--json"], t.env);
    const checks: Array<{ name: string; fix?: string }> = JSON.parse(json.stdout).checks;
    const fix = checks.find((c) => c.name === "pid file")!.fix!;
    const command = fix.split("   (")[0]!;
    assert.ok(text.stdout.includes(command), text.stdout);
    execFileSync("sh", ["-c", command], { cwd: t.root });
    assert.equal(existsSync(path.join(runtime, "daemon.pid")), false, "the fix removed the pid file");
    for (const name of ["pwned", "pwned2"]) {
      assert.equal(existsSync(path.join(t.root, name)), false, `${command} ran ${name}`);
    }
  }));
