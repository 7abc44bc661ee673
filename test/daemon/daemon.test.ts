import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import { test } from "node:test";
import { fingerprint } from "../../src/core/fingerprint.js";
import {
  DaemonProcess,
  fakeClaudeRefreshRuns,
  fakeClaudeRuns,
  fakeClaudeTokens,
  installFakeClaude,
} from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken, runCli, withHome, type TestHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";

/** Runs a daemon on a fresh home, stops it, and checks that no planted token appeared anywhere it printed. */
async function withDaemon(
  setup: (t: TestHome) => { config?: Record<string, unknown>; mode?: string } | void,
  fn: (d: DaemonProcess, t: TestHome, control: string) => Promise<void>,
): Promise<void> {
  const t = makeHome();
  const control = installFakeClaude(t);
  const { config, mode } = setup(t) ?? {};
  if (mode) writeFileSync(path.join(control, "mode"), mode);
  const args: string[] = [];
  if (config) {
    const file = path.join(t.root, "config.json");
    writeFileSync(file, JSON.stringify(config));
    args.push("--config", file);
  }
  const d = new DaemonProcess(t, args);
  try {
    await fn(d, t, control);
  } finally {
    const { code } = await d.stop();
    const state = readFileSafe(path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync", "state.json"));
    const leaks = leakedTokens(d.stdout + d.stderr + state, [...t.planted, ...fakeClaudeTokens(control)]);
    t.cleanup();
    assert.deepEqual(leaks, [], "no planted token in any output or the state file");
    assert.ok(code === 0 || code === null, `daemon exit code ${code}: ${d.stderr}`);
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

const written = (d: DaemonProcess, agent: string, token: string) =>
  d.waitFor((r) => r.event === "sync.written" && r.agent === agent && r.fingerprint === fingerprint(token));

test("daemon: syncs at start, then syncs an atomic rewrite of the credentials", () =>
  withDaemon(
    (t) => void t.writeCredentials(),
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      const next = t.writeCredentials();
      await written(d, "main", next.accessToken);
      assert.equal(t.readStore("main").profiles[ID].token, next.accessToken);
      assert.equal(d.events("source.changed").length, 2);
    },
  ));

test("daemon: an in-place save (older claude) read half-written is read again, not reported", () =>
  withDaemon(
    (t) => void t.writeCredentials(),
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      const accessToken = randomToken("oat");
      const refreshToken = randomToken("ort");
      t.planted.push(accessToken, refreshToken);
      const body = JSON.stringify({
        claudeAiOauth: { accessToken, refreshToken, expiresAt: Date.now() + 8 * 3_600_000 },
      });
      // Truncate and write in two parts, as CLIs before 1.0.45 did; the daemon sees the first part alone.
      const fd = openSync(path.join(t.claudeDir, ".credentials.json"), "w");
      try {
        writeSync(fd, body.slice(0, 20));
        await sleep(30);
        writeSync(fd, body.slice(20));
      } finally {
        closeSync(fd);
      }
      await written(d, "main", accessToken);
      assert.equal(d.events("source.invalid").length, 0, "a half-written file is not a broken login");
    },
  ));

test("daemon: a credentials file (and folder) created after start is synced", () =>
  withDaemon(
    (t) => void rmSync(t.claudeDir, { recursive: true }),
    async (d, t) => {
      await d.waitForEvent("source.missing");
      mkdirSync(t.claudeDir);
      const cred = t.writeCredentials();
      await written(d, "main", cred.accessToken);
      await d.waitForEvent("source.recovered");
      assert.equal(d.events("source.missing").length, 1, "the missing source is logged once");
    },
  ));

test("daemon: a new agent, and a deleted or foreign-rewritten store, get the credentials again", () =>
  withDaemon(
    (t) => void t.writeCredentials(),
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      const token = t.readStore("main").profiles[ID].token as string;
      mkdirSync(t.agentDir("fresh"), { recursive: true });
      await written(d, "fresh", token);
      await d.waitFor((r) => r.event === "agent.added" && r.agent === "fresh");
      let from = d.records.length;
      rmSync(t.storePath("fresh"));
      await d.waitFor((r) => r.event === "sync.written" && r.agent === "fresh", 10_000, from);
      from = d.records.length;
      t.writeStore("fresh", { version: 1, profiles: { other: { type: "api_key", provider: "openai", key: "k" } } });
      await d.waitFor((r) => r.event === "sync.written" && r.agent === "fresh", 10_000, from);
      const store = t.readStore("fresh");
      assert.equal(store.profiles[ID].token, token);
      assert.equal(store.profiles.other.key, "k");
    },
  ));

test("daemon: an agent the operator removes stays removed", () =>
  withDaemon(
    (t) => {
      t.writeCredentials();
      t.writeStore("gone", { version: 1, profiles: {} });
    },
    async (d, t) => {
      await d.waitFor((r) => r.event === "sync.written" && r.agent === "gone");
      await d.waitForEvent("daemon.ready");
      let from = d.records.length;
      rmSync(path.join(t.stateDir, "agents", "gone"), { recursive: true });
      // The deletion's events were handled: the agent is forgotten. Then a pass that would write it.
      await d.waitFor((r) => r.event === "agent.removed" && r.agent === "gone", 10_000, from);
      from = d.records.length;
      const next = t.writeCredentials();
      await d.waitFor((r) => r.event === "sync.written" && r.agent === "main", 10_000, from);
      assert.equal(t.readStore("main").profiles[ID].token, next.accessToken);
      assert.equal(existsSync(path.join(t.stateDir, "agents", "gone")), false, "the removed agent was not made again");
      assert.equal(d.records.filter((r) => r.agent === "gone" && r.event === "sync.written").length, 1);
    },
  ));

test("daemon: a new token that one agent's event reads first still reaches every agent", () =>
  withDaemon(
    (t) => {
      t.writeCredentials();
      t.writeStore("work", { version: 1, profiles: {} });
    },
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      // Two rewrites 20 ms apart: chokidar drops the second change event, and the gateway's rewrite of main
      // (just before it) makes a pass for main alone, which reads the second token first.
      for (let i = 0; i < 15; i++) {
        t.writeCredentials();
        await new Promise((r) => setTimeout(r, 20));
        t.writeStore("main", { version: 1, profiles: {} });
        const next = t.writeCredentials();
        await d.waitFor(
          () => ["main", "work"].every((a) => t.readStore(a).profiles[ID]?.token === next.accessToken),
          3_000,
        );
      }
    },
  ));

test("daemon: its own writes do not trigger further writes", () =>
  withDaemon(
    (t) => {
      t.writeCredentials();
      return { config: { logLevel: "debug" } };
    },
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      let last = t.writeCredentials();
      for (let i = 0; i < 4; i++) last = t.writeCredentials();
      const final = await written(d, "main", last.accessToken);
      // The daemon saw its last write (logged before the write's own line) and ignored it, and nothing waits.
      const seen = d.records.findIndex((r) => r.event === "source.changed" && r.fingerprint === final.fingerprint);
      await d.waitFor(
        (r) => r.event === "watch.handled" && r.own === true && r.file === t.storePath("main"),
        10_000,
        seen,
      );
      await d.waitForIdle(seen);
      const after = d.records.slice(d.records.indexOf(final) + 1);
      assert.deepEqual(
        after.filter((r) => r.event === "sync.written"),
        [],
        "quiet after the burst settles",
      );
    },
  ));

test("daemon: a token inside the refresh margin makes it run claude mcp serve once, and the new token is synced", () =>
  withDaemon(
    (t) => {
      t.writeCredentials({ expiresAt: Date.now() + 3 * 60_000 });
      return { mode: "window" };
    },
    async (d, t, control) => {
      const ok = await d.waitForEvent("refresh.succeeded");
      assert.ok((ok.expiresAt as number) > Date.now() + 7 * 3_600_000);
      const fresh = JSON.parse(readFileSync(path.join(t.claudeDir, ".credentials.json"), "utf8")).claudeAiOauth
        .accessToken;
      await written(d, "main", fresh);
      const runs = fakeClaudeRuns(control).filter((r) => r.args.startsWith("mcp") || r.args.startsWith("-p"));
      assert.deepEqual(
        runs.map((r) => `${r.what} ${r.args}`),
        ["start mcp serve", "end mcp serve"],
        "no request",
      );
      // `mcp serve` serves stdin until it closes: it ended by itself, not at refreshTimeout's kill.
      assert.ok((ok.durationMs as number) < 30_000, `took ${String(ok.durationMs)} ms`);
    },
  ));

test("daemon: the expiry timer fires on time even when both schedules are daily", () =>
  withDaemon(
    (t) => {
      t.writeCredentials({ expiresAt: Date.now() + 4 * 60_000 + 6_000 });
      return { config: { resyncCron: "0 3 * * *", refreshCheckCron: "0 4 * * *" } };
    },
    async (d) => {
      await d.waitForEvent("daemon.ready");
      const started = await d.waitForEvent("refresh.started", 20_000);
      assert.equal(started.trigger, "timer");
      await d.waitForEvent("refresh.succeeded");
    },
  ));

test("daemon: a refreshMargin wider than claude's 5-minute window marks nothing; the next try waits for the window", () =>
  withDaemon(
    (t) => {
      t.writeCredentials({ expiresAt: Date.now() + 5 * 60_000 + 8_000 });
      return { config: { refreshMargin: "30m", refreshCheckCron: "* * * * * *" }, mode: "window" };
    },
    async (d, t, control) => {
      const unneeded = await d.waitForEvent("refresh.unneeded", 20_000);
      assert.match(
        unneeded.msg,
        /nothing to refresh yet: it refreshes only within 5m of expiry, and refreshMargin is 30m/,
      );
      assert.equal(
        fakeClaudeRuns(control).filter((r) => r.what === "start").length,
        1,
        "no run per refresh check before the window",
      );
      await d.waitForEvent("refresh.succeeded", 20_000);
      assert.deepEqual(fakeClaudeRefreshRuns(control), ["mcp serve", "mcp serve"], "no model request");
      assert.equal(d.events("cooldown.marked").length + d.events("refresh.failed").length, 0);
      assert.equal(t.readStore("main").usageStats, undefined, "a token that works is never marked");
    },
  ));

let expiresAt = 0;
test("daemon: a hanging claude is killed at the timeout, backs off, and the daemon stays responsive", () =>
  withDaemon(
    (t) => {
      expiresAt = Date.now() + 60_000;
      t.writeCredentials({ expiresAt });
      return { config: { refreshTimeout: "1s" }, mode: "hang" };
    },
    async (d, t, control) => {
      await d.waitForEvent("refresh.started");
      // While claude hangs, a credential change is still synced. (Same expiry: the refresh itself did not happen.)
      const next = t.writeCredentials({ expiresAt });
      await written(d, "main", next.accessToken);
      const failed = await d.waitForEvent("refresh.failed", 15_000);
      assert.equal(failed.timedOut, true);
      assert.ok((failed.retryInMs as number) >= 10_000, "backs off before the next try");
      const runs = fakeClaudeRuns(control);
      assert.equal(fakeClaudeRefreshRuns(control).length, 1, "no second run while backing off");
      assert.ok(
        runs.some((r) => r.what === "sigterm-ignored"),
        "SIGTERM first, then SIGKILL",
      );
    },
  ));

test("daemon: SIGTERM exits 0, removes the pid file and leaves nothing half-written", () =>
  withHome(async (t) => {
    installFakeClaude(t);
    t.writeCredentials();
    for (let i = 0; i < 20; i++) mkdirSync(t.agentDir(`a${i}`), { recursive: true });
    const d = new DaemonProcess(t);
    await d.waitForEvent("daemon.ready");
    t.writeCredentials();
    await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    const { code } = await d.stop();
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 15_000, "not hung (the daemon's own deadline is 4.5 s)");
    assert.ok(d.events("daemon.stopped").length === 1);
    assert.equal(existsSync(path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync", "daemon.pid")), false);
    for (let i = 0; i < 20; i++) {
      const dir = t.agentDir(`a${i}`);
      assert.deepEqual(
        readdirSync(dir).filter((f) => f !== "auth-profiles.json"),
        [],
        `no temp or lock files in ${dir}`,
      );
      JSON.parse(readFileSync(t.storePath(`a${i}`), "utf8"));
    }
  }));

test("daemon: SIGHUP with a bad config keeps the old config; a good one is applied", () =>
  withDaemon(
    (t) => {
      t.writeCredentials();
      return { config: { profileId: "anthropic:first" } };
    },
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      const file = path.join(t.root, "config.json");
      writeFileSync(file, JSON.stringify({ profileId: "anthropic:first", refreshMargn: "1m" }));
      d.child.kill("SIGHUP");
      const invalid = await d.waitForEvent("config.invalid");
      const typo = `config ${file}: unknown key "refreshMargn"; did you mean "refreshMargin"?`;
      assert.equal(invalid.msg, `${typo}; keeping the running config`, "the line the CLI would print");
      // A syntax error: file:line:column first, in the one log record.
      writeFileSync(file, '{\n  "profileId": "anthropic:first",\n  "refreshMargin": 1m\n}');
      const from = d.records.length;
      d.child.kill("SIGHUP");
      const syntax = await d.waitForEvent("config.invalid", undefined, from);
      const where = `config ${file}:3:21`;
      assert.equal(
        syntax.msg,
        `${where}: not valid JSON: Expected ',' or '}' after property value; keeping the running config`,
      );
      const next = t.writeCredentials();
      await written(d, "main", next.accessToken);
      assert.equal(t.readStore("main").profiles["anthropic:first"].token, next.accessToken);
      writeFileSync(file, JSON.stringify({ profileId: "anthropic:second" }));
      d.child.kill("SIGHUP");
      await d.waitForEvent("daemon.reloaded");
      await d.waitFor(() => t.readStore("main").profiles["anthropic:second"]?.token === next.accessToken);
    },
  ));

test("daemon: SIGHUPs that come while it starts are applied after the start, and the watch goes on", () =>
  withDaemon(
    (t) => void t.writeCredentials(),
    async (d, t) => {
      await d.waitForEvent("daemon.started");
      d.child.kill("SIGHUP");
      d.child.kill("SIGHUP");
      await d.waitFor(() => d.events("daemon.reloaded").length >= 1 && d.events("daemon.ready").length === 1);
      const next = t.writeCredentials();
      await written(d, "main", next.accessToken);
      assert.equal(t.readStore("main").profiles[ID].token, next.accessToken);
    },
  ));

test("daemon: a second instance is refused and names the running pid", () =>
  withDaemon(
    (t) => void t.writeCredentials(),
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      const second = await runCli(["run"], t.env, { timeoutMs: 10_000 });
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`another moltbot-auth-sync daemon is running \\(pid ${d.child.pid}`));
    },
  ));

test("daemon: a stale pid file is taken over", () =>
  withHome(async (t) => {
    installFakeClaude(t);
    t.writeCredentials();
    const dir = path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "daemon.pid"), "999999\n");
    const d = new DaemonProcess(t);
    await d.waitForEvent("daemon.ready");
    assert.equal(readFileSync(path.join(dir, "daemon.pid"), "utf8").split("\n")[0], String(d.child.pid));
    assert.equal((await d.stop()).code, 0);
  }));

test("daemon: a bad cron expression exits 78 and names the key", () =>
  withHome(async (t) => {
    t.writeCredentials();
    const file = path.join(t.root, "c.json");
    writeFileSync(file, JSON.stringify({ refreshCheckCron: "every minute" }));
    const r = await runCli(["--config", file, "run"], t.env);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /key refreshCheckCron: not a valid cron expression/);
  }));

test("status shows whether the daemon runs and when it last acted", () =>
  withDaemon(
    (t) => void t.writeCredentials(),
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      const r = await runCli(["status", "--json"], t.env);
      const out = JSON.parse(r.stdout);
      assert.equal(out.daemon.running, true);
      assert.equal(out.daemon.pid, d.child.pid);
      assert.ok(out.daemon.lastSyncAt > Date.now() - 60_000);
      const text = await runCli(["status"], t.env);
      assert.match(text.stdout, new RegExp(`daemon  running \\(pid ${d.child.pid}\\)`));
    },
  ));

test("daemon: the credentials file deleted and made again is still watched", () =>
  withDaemon(
    (t) => void t.writeCredentials(),
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      rmSync(path.join(t.claudeDir, ".credentials.json"));
      await d.waitForEvent("source.missing");
      const back = t.writeCredentials();
      await written(d, "main", back.accessToken);
      rmSync(t.claudeDir, { recursive: true });
      mkdirSync(t.claudeDir);
      const again = t.writeCredentials();
      await written(d, "main", again.accessToken);
    },
  ));

test("daemon: claude runs with CLAUDE_CONFIG_DIR set to claudeConfigDir, so it refreshes the right store", () =>
  withDaemon(
    (t) => {
      const custom = path.join(t.root, "claude-work");
      mkdirSync(custom);
      t.claudeDir = custom;
      t.writeCredentials({ expiresAt: Date.now() + 60_000 });
      return { config: { claudeConfigDir: custom } };
    },
    async (d, t) => {
      const ok = await d.waitForEvent("refresh.succeeded");
      const fresh = JSON.parse(readFileSync(path.join(t.claudeDir, ".credentials.json"), "utf8")).claudeAiOauth;
      assert.equal(ok.expiresAt, fresh.expiresAt);
      await written(d, "main", fresh.accessToken);
    },
  ));
