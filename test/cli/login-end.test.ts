/** `status` and `sync` against the Claude login's hard end (refreshTokenExpiresAt), with a fake claude on PATH. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fakeClaudeRefreshRuns, fakeClaudeRuns, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { type TestHome, leakedTokens, runCli, withHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
const DAY = 86_400_000;
const FIX =
  "Fix: on this host, sign in again with `claude auth login`; for unattended use, `claude setup-token`, " +
  "then `moltbot-auth-sync token set`";
/** Half an hour off a whole day: a duration printed to the hour reads the same however long a run takes. */
const HALF_HOUR = 30 * 60_000;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A login as claude 2.1.318+ writes it, ending `endsInMs` from now (an 8-hour token unless told otherwise). */
function loginEnding(t: TestHome, endsInMs: number | undefined, expiresInMs = 8 * 3_600_000) {
  const oauth = endsInMs === undefined ? {} : { refreshTokenExpiresAt: Date.now() + endsInMs };
  return { ...t.writeCredentials({ expiresAt: Date.now() + expiresInMs, oauth }), ...oauth };
}

function leaks(t: TestHome, control: string | undefined, ...outputs: Array<{ stdout: string; stderr: string }>) {
  const text = outputs.map((o) => o.stdout + o.stderr).join("\n");
  return leakedTokens(text, [...t.planted, ...(control ? fakeClaudeTokens(control) : [])]);
}

test("status: exit 2 from 10 days before the login's end, in one line with the date and both ways out", () =>
  withHome(async (t) => {
    mkdirSync(t.agentDir("work"), { recursive: true });
    const { refreshTokenExpiresAt: end } = loginEnding(t, 5 * DAY + HALF_HOUR);
    const synced = await runCli(["sync"], t.env);
    assert.equal(synced.code, 0, synced.stderr);
    assert.match(
      synced.stderr,
      /^warning: the Claude login ends in 5d \(.* UTC\) and cannot be renewed past it\. Fix: /m,
    );
    const r = await runCli(["status"], t.env);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const date = new Date(end!).toISOString().slice(0, 16).replace("T", " ");
    assert.equal(
      r.stderr,
      `moltbot-auth-sync: the Claude login ends in 5d (${date} UTC) and cannot be renewed past it ` +
        `(loginEndWarning, 10d). ${FIX}\n`,
    );
    assert.match(r.stdout, new RegExp(`^source  .*; login ends in 5d \\(${escape(date)} UTC\\)$`, "m"));
    const json = await runCli(["status", "--json"], t.env);
    assert.equal(json.code, 2);
    assert.equal(json.stderr, "");
    const j = JSON.parse(json.stdout);
    assert.equal(j.source.loginEndsAt, end);
    assert.equal(j.exitCode, 2);
    assert.match(j.why, /^the Claude login ends in 5d/);
    assert.deepEqual(leaks(t, undefined, synced, r, json), []);
  }));

test("status: exit 0 before the window (or with a shorter loginEndWarning), and for a file without the end", () =>
  withHome(async (t) => {
    const { refreshTokenExpiresAt: end } = loginEnding(t, 20 * DAY + HALF_HOUR);
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    const r = await runCli(["status"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^source {2}.*; login ends in 20d \(/m);
    assert.equal(JSON.parse((await runCli(["status", "--json"], t.env)).stdout).source.loginEndsAt, end);

    loginEnding(t, 5 * DAY);
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    const config = path.join(t.root, "config.json");
    writeFileSync(config, JSON.stringify({ loginEndWarning: "3d" }));
    assert.equal((await runCli(["--config", config, "status"], t.env)).code, 0, "5 days ahead, a 3-day window");
    writeFileSync(config, JSON.stringify({ loginEndWarning: "soon" }));
    const bad = await runCli(["--config", config, "status"], t.env);
    assert.equal(bad.code, 78);
    assert.match(bad.stderr, /key loginEndWarning: expected a duration/);

    loginEnding(t, undefined);
    const synced = await runCli(["sync"], t.env);
    assert.equal(synced.code, 0);
    assert.equal(synced.stderr, "", "no word of an end the file does not have");
    const plain = await runCli(["status", "--json"], t.env);
    assert.equal(plain.code, 0);
    assert.equal("loginEndsAt" in JSON.parse(plain.stdout).source, false);
    assert.deepEqual(leaks(t, undefined, r, bad, synced, plain), []);
  }));

test("sync past the login's end: no claude run, our profile marked as a dead login, exit 1 in one line", () =>
  withHome(async (t) => {
    const control = installFakeClaude(t, "refresh");
    mkdirSync(t.agentDir("work"), { recursive: true });
    // The token is inside refreshMargin: without the end, sync would run claude first.
    const { refreshTokenExpiresAt: end } = loginEnding(t, -3_600_000 - 20_000, 2 * 60_000);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const date = escape(new Date(end!).toISOString().slice(0, 16).replace("T", " "));
    // Ended 1h20s before the run: "1h ago" for 40 s more, then "1h1m ago".
    const line =
      `^moltbot-auth-sync: the Claude login reached its time limit 1h(?:1m)? ago \\(${date} UTC\\) and cannot be ` +
      `renewed; ${ID} is marked unusable, so the gateway fails over\\. ${escape(FIX)}\n$`;
    assert.match(r.stderr, new RegExp(line));
    assert.deepEqual(fakeClaudeRuns(control), [], "claude was not run at all");
    for (const agent of ["main", "work"]) {
      const stats = t.readStore(agent).usageStats[ID];
      assert.equal(stats.disabledReason, "auth", agent);
      assert.ok(stats.disabledUntil > Date.now(), agent);
    }
    assert.match(r.stdout, /^main {2}anthropic:claude-cli {2}marked {3}disabled \(auth\)$/m);
    const status = await runCli(["status"], t.env);
    assert.equal(status.code, 1);
    assert.match(
      status.stderr,
      /^moltbot-auth-sync: the Claude login reached its time limit 1h(?:1m)? ago \(.*\. Fix: /,
    );
    const dry = await runCli(["sync", "--dry-run"], t.env);
    assert.equal(dry.code, 1);
    assert.match(
      dry.stderr,
      /^moltbot-auth-sync: the Claude login reached its time limit 1h(?:1m)? ago \([^;]*\. Fix: /,
    );
    assert.deepEqual(fakeClaudeRuns(control), []);
    assert.deepEqual(leaks(t, control, r, status, dry), []);
  }));

test("sync: claude's time-limit answer (a file without the end) is a dead login: one run, exit 1 in one line", () =>
  withHome(async (t) => {
    const control = installFakeClaude(t, "timelimit");
    loginEnding(t, undefined, 2 * 60_000);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(fakeClaudeRefreshRuns(control), ["mcp serve"], "no fallback command: it cannot help");
    assert.equal(fakeClaudeRuns(control).filter((run) => run.args.startsWith("auth ")).length, 0);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^moltbot-auth-sync: claude says the login reached its time limit and cannot be renewed \(claude said: Failed to authenticate: this login reached its time limit.*\); anthropic:claude-cli is marked unusable, so the gateway fails over\. Fix: on this host, sign in again with `claude auth login`/,
    );
    assert.equal(t.readStore("main").usageStats[ID].disabledReason, "auth");
    assert.deepEqual(leaks(t, control, r), []);
  }));

test("sync: a file without the end refreshes through claude as before", () =>
  withHome(async (t) => {
    const control = installFakeClaude(t, "refresh");
    const { accessToken } = loginEnding(t, undefined, 2 * 60_000);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(fakeClaudeRefreshRuns(control), ["mcp serve"]);
    assert.match(r.stdout, /^refresh: claude refreshed the login: /m);
    assert.notEqual(t.readStore("main").profiles[ID].token, accessToken);
    assert.deepEqual(leaks(t, control, r), []);
  }));

test("several logins: the one whose end nears is named by status and sync; sync --json carries its end", () =>
  withHome(async (t) => {
    const personal = path.join(t.root, "claude-personal");
    const work = path.join(t.root, "claude-work");
    mkdirSync(personal);
    mkdirSync(work);
    t.claudeDir = personal;
    loginEnding(t, 40 * DAY);
    t.claudeDir = work;
    const { refreshTokenExpiresAt: end } = loginEnding(t, 3 * DAY + HALF_HOUR);
    const config = path.join(t.root, "config.json");
    const logins = [
      { claudeConfigDir: personal, profileId: "anthropic:personal" },
      { claudeConfigDir: work, profileId: "anthropic:work" },
    ];
    writeFileSync(config, JSON.stringify({ logins }));
    const synced = await runCli(["--config", config, "sync", "--json"], t.env);
    assert.equal(synced.code, 0, synced.stderr);
    assert.match(synced.stderr, /^anthropic:work: warning: the Claude login ends in 3d \(/);
    const sources = JSON.parse(synced.stdout).logins.map((l: { source: { loginEndsAt?: number } }) => l.source);
    assert.equal(sources[1].loginEndsAt, end);
    const r = await runCli(["--config", config, "status"], t.env);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^moltbot-auth-sync: anthropic:work: the Claude login ends in 3d \(.*\(loginEndWarning, 10d\)\. Fix: /,
    );
    assert.deepEqual(leaks(t, undefined, synced, r), []);
  }));
