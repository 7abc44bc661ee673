/**
 * The daemon's word on the Claude login's end: login.expiring at most once a day in the window, login.ended at the
 * end, kept across restarts in the state file. The rules under a fake clock; then the real daemon, its hook, its
 * /healthz and /metrics, and no claude run for an ended login.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import pino from "pino";
import { parseConfig } from "../../src/config/config.js";
import { LOGIN_END_ALERT_EVERY_MS, LoginEndWatch } from "../../src/daemon/login-end.js";
import type { LoginEndTold } from "../../src/runtime/files.js";
import { ProblemLog } from "../../src/daemon/problem-log.js";
import { stateFilePath } from "../../src/runtime/files.js";
import { StateFile } from "../../src/daemon/state-file.js";
import { Timers } from "../../src/daemon/timers.js";
import type { SourceCredential } from "../../src/types.js";
import {
  DaemonProcess,
  FakeClock,
  fakeClaudeRefreshRuns,
  fakeClaudeTokens,
  installFakeClaude,
} from "../helpers/daemon.js";
import { type TestHome, leakedTokens, makeHome, randomToken, withHome } from "../helpers/env.js";

const DAY = 86_400_000;
const ID = "anthropic:claude-cli";

/** One login's watch under a fake clock; the state file's entry is `world.told`, which a "restart" keeps. */
function setup(endsInMs: number, config: Record<string, unknown> = {}) {
  const clock = new FakeClock();
  const world = {
    login: {
      origin: "test",
      accessToken: randomToken(),
      expiresAt: clock.now() + 8 * 3_600_000,
      loginEndsAt: clock.now() + endsInMs,
    } as SourceCredential | undefined,
    told: undefined as LoginEndTold | undefined,
    said: [] as Array<{ level: string; event: string; msg: string; at: number; fields: Record<string, unknown> }>,
    hooked: [] as string[],
    passes: 0,
  };
  const parsed = parseConfig(config, "test");
  const watch = (): LoginEndWatch => {
    const w: LoginEndWatch = new LoginEndWatch({
      clock,
      timers: new Timers(clock),
      config: () => parsed,
      login: () => world.login,
      told: () => world.told,
      remember: (told) => (world.told = told),
      emit: (level, event, msg, fields) => world.said.push({ level, event, msg, at: clock.now(), fields }),
      hook: (event, reason, agents) => world.hooked.push(`${event}|${reason}|${agents.map((a) => a.agent).join(",")}`),
      agents: () => [{ agent: "main" }, { agent: "work" }],
      // As the daemon's pass does: it marks, then asks the watch.
      fullPass: () => {
        world.passes++;
        w.check();
      },
    });
    return w;
  };
  return { clock, world, watch };
}

test("login end: quiet before the window, login.expiring at its first moment, then once a day", async () => {
  const { clock, world, watch } = setup(12 * DAY);
  const w = watch();
  const start = clock.now();
  w.check();
  assert.equal(world.said.length, 0);
  assert.deepEqual(clock.pending(), [start + 2 * DAY], "armed for the window's start");
  await clock.advance(2 * DAY - 1);
  assert.equal(world.said.length, 0);
  await clock.advance(1);
  assert.equal(world.said.length, 1);
  const [first] = world.said;
  assert.equal(first!.event, "login.expiring");
  assert.equal(first!.level, "warn");
  assert.match(
    first!.msg,
    /^the Claude login ends in 10d \(2026-01-13 00:00 UTC\) and cannot be renewed past it\. Fix: /,
  );
  assert.match(first!.msg, /`claude auth login`.*`claude setup-token`, then `moltbot-auth-sync token set`$/);
  assert.deepEqual(first!.fields, { profile: ID, loginEndsAt: world.login!.loginEndsAt, agents: ["main", "work"] });
  assert.deepEqual(world.hooked, [
    "login.expiring|the Claude login ends in 10d (2026-01-13 00:00 UTC) and cannot be renewed past it|main,work",
  ]);
  // Passes every few minutes say nothing more that day.
  for (let i = 0; i < 10; i++) {
    await clock.advance(5 * 60_000);
    w.check();
  }
  await clock.advance(LOGIN_END_ALERT_EVERY_MS - 50 * 60_000 - 1);
  assert.equal(world.said.length, 1);
  await clock.advance(1);
  assert.equal(world.said.length, 2, "a day later, by its own timer");
  assert.equal(world.said[1]!.at - first!.at, LOGIN_END_ALERT_EVERY_MS);
  assert.match(world.said[1]!.msg, /^the Claude login ends in 9d \(/);
  assert.equal(world.passes, 0, "no pass before the end");
});

test("login end: a restarted daemon does not say it again within the day; login.ended once, at the end", async () => {
  const { clock, world, watch } = setup(3 * DAY);
  watch().check();
  assert.equal(world.said.length, 1, "inside the window from the start: at once");
  // A restart: a new watch (and new timers) over the same state file entry.
  await clock.advance(5 * 3_600_000);
  const again = watch();
  again.check();
  assert.equal(world.said.length, 1, "said 5 hours ago, by the daemon before");
  await clock.advance(LOGIN_END_ALERT_EVERY_MS - 5 * 3_600_000);
  // Both watches' timers fire (the first daemon's would be gone; the state entry keeps them to one alert).
  assert.equal(world.said.filter((s) => s.event === "login.expiring").length, 2);
  await clock.advance(2 * DAY - 1);
  assert.deepEqual(
    world.said.map((s) => [s.event, s.at]),
    [0, 1, 2].map((day) => ["login.expiring", world.said[0]!.at + day * DAY]),
  );
  await clock.advance(1);
  const ended = world.said.filter((s) => s.event === "login.ended");
  assert.equal(ended.length, 1, "once, however many watches and passes");
  assert.equal(ended[0]!.level, "error");
  assert.equal(ended[0]!.at, world.login!.loginEndsAt, "at the very end");
  assert.match(ended[0]!.msg, /^the Claude login reached its time limit 0s ago \(2026-01-04 00:00 UTC\) and cannot/);
  assert.ok(world.passes >= 1, "the end runs a full pass, which marks our profile");
  assert.equal(world.hooked.filter((h) => h.startsWith("login.ended|")).length, 1);
  for (let i = 0; i < 5; i++) {
    await clock.advance(DAY);
    again.check();
  }
  assert.equal(world.said.length, 4, "nothing more, day after day");
  assert.deepEqual(clock.pending(), []);
  // A new sign-in with its own end, already inside the window: said at once; a login without an end says nothing.
  world.login = { ...world.login!, accessToken: randomToken(), loginEndsAt: clock.now() + 4 * DAY };
  again.check();
  assert.equal(world.said.at(-1)!.event, "login.expiring");
  world.login = { ...world.login, loginEndsAt: undefined };
  delete world.login.loginEndsAt;
  await clock.advance(10 * DAY);
  again.check();
  assert.equal(world.said.length, 5);
});

test("login end: loginEndWarning sets the window", async () => {
  const { clock, world, watch } = setup(5 * DAY, { loginEndWarning: "2d" });
  watch().check();
  assert.equal(world.said.length, 0);
  await clock.advance(3 * DAY);
  assert.equal(world.said.length, 1);
  assert.match(world.said[0]!.msg, /ends in 2d \(/);
});

test("state file: what was said of each login's end is taken over by the next daemon; anything else is dropped", () =>
  withHome(async (t) => {
    const file = stateFilePath(t.env);
    mkdirSync(path.dirname(file), { recursive: true });
    const told = { event: "login.expiring", endsAt: 1_800_000_000_000, at: 1_799_000_000_000 };
    const previous = {
      pid: 1,
      startedAt: 1,
      updatedAt: 2,
      lastSyncSummary: "from before",
      loginEndTold: { [ID]: told, "anthropic:bad": { event: "rm -rf", endsAt: "x" }, "anthropic:null": null },
    };
    writeFileSync(file, JSON.stringify(previous));
    const clock = new FakeClock();
    const state = new StateFile(file, new ProblemLog(pino({ level: "silent" })), clock, 42);
    await state.restore();
    assert.deepEqual(state.state.loginEndTold, { [ID]: told });
    assert.equal(state.state.lastSyncSummary, undefined, "the rest is the new daemon's own");
    await state.save();
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")).loginEndTold, { [ID]: told });
    for (const garbage of ["", "[1]", '{"loginEndTold": [1]}', '{"loginEndTold": "x"}']) {
      writeFileSync(file, garbage);
      const fresh = new StateFile(file, new ProblemLog(pino({ level: "silent" })), clock, 43);
      await fresh.restore();
      assert.equal(fresh.state.loginEndTold, undefined, garbage);
    }
  }));

/** A hook that appends EVENT|PROFILE|REASON|AGENTS to a file; and the config with the metrics server. */
function configWithHook(t: TestHome): { config: string; out: string } {
  const out = path.join(t.root, "hook.log");
  const hook = path.join(t.root, "hook.sh");
  writeFileSync(hook, `#!/bin/sh\necho "$EVENT|$PROFILE|$REASON|$AGENTS" >> "${out}"\n`, { mode: 0o755 });
  const config = path.join(t.root, "config.json");
  writeFileSync(config, JSON.stringify({ onEvent: [hook], metrics: { listen: "127.0.0.1:0" } }));
  return { config, out };
}

/** The hook's lines once one matches `pattern` (the hook runs beside the daemon, a moment after its log line). */
async function hookLines(file: string, pattern: RegExp): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const lines = (() => {
      try {
        return readFileSync(file, "utf8").trim().split("\n");
      } catch {
        return [];
      }
    })();
    if (lines.some((l) => pattern.test(l))) return lines;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${file} never matched ${pattern}`);
}

async function scrape(port: unknown, pathname: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${String(port)}${pathname}`);
  return { status: res.status, text: await res.text() };
}

test("daemon: login.expiring once with the hook, /healthz and /metrics carry the end, a restart stays quiet; at the end no claude run, marked, login.ended; a new sign-in recovers", async () => {
  const t = makeHome();
  const control = installFakeClaude(t, "refresh");
  const { config, out } = configWithHook(t);
  const end = Date.now() + 5 * DAY;
  t.writeCredentials({ oauth: { refreshTokenExpiresAt: end } });
  mkdirSync(t.agentDir("work"), { recursive: true });
  let d = new DaemonProcess(t, ["--config", config]);
  const outputs: string[] = [];
  try {
    const listening = await d.waitForEvent("metrics.listening");
    await d.waitForEvent("daemon.ready");
    const expiring = d.events("login.expiring");
    assert.equal(expiring.length, 1, "said in the first pass, once");
    assert.equal(expiring[0]!.level, "warn");
    assert.equal(expiring[0]!.loginEndsAt, end);
    assert.match(
      expiring[0]!.msg,
      /^the Claude login ends in (5d|4d23h) \(.* UTC\) and cannot be renewed past it\. Fix: /,
    );
    const lines = await hookLines(out, /^login\.expiring\|/);
    const fields = lines.find((l) => l.startsWith("login.expiring|"))!.split("|");
    assert.equal(fields[1], ID);
    assert.match(fields[2]!, /^the Claude login ends in (5d|4d23h) \(.* UTC\) and cannot be renewed past it$/);
    assert.deepEqual(fields[3]!.split(",").sort(), ["main", "work"]);

    const health = await scrape(listening.port, "/healthz");
    outputs.push(health.text);
    assert.equal(health.status, 200, "the end is near, not here: still healthy");
    const body = JSON.parse(health.text);
    assert.equal(body.source.loginEndsAt, end);
    assert.equal(body.exitCode, 2);
    assert.match(body.why, /^the Claude login ends in (5d|4d23h) \(.*\(loginEndWarning, 10d\)\. Fix: /);
    const metrics = await scrape(listening.port, "/metrics");
    outputs.push(metrics.text);
    const gauge = new RegExp(`^moltbot_auth_sync_login_end_timestamp_seconds\\{profile="${ID}"\\} (\\S+)$`, "m");
    assert.equal(Number(gauge.exec(metrics.text)?.[1]), end / 1000);

    // A restart within the day: its first pass (done by daemon.ready) says nothing of the end.
    await d.stop();
    outputs.push(d.stdout + d.stderr);
    d = new DaemonProcess(t, ["--config", config]);
    await d.waitForEvent("daemon.ready");
    assert.equal(d.events("login.expiring").length, 0);

    // The end: the file says it has passed, and the token is inside refreshMargin. No claude run, our profile
    // marked as a dead login, login.ended with the hook.
    const from = d.records.length;
    t.writeCredentials({ expiresAt: Date.now() + 2 * 60_000, oauth: { refreshTokenExpiresAt: Date.now() - 1000 } });
    const ended = await d.waitForEvent("login.ended", 10_000, from);
    assert.equal(ended.level, "error");
    assert.match(ended.msg, /^the Claude login reached its time limit \S+ ago \(.*\) and cannot be renewed\. Fix: /);
    const needsLogin = await d.waitForEvent("needs_login", 10_000, from);
    assert.match(
      needsLogin.msg,
      /reached its time limit .*\. Fix: on this host, sign in again with `claude auth login`/,
    );
    for (const agent of ["main", "work"]) assert.equal(t.readStore(agent).usageStats[ID].disabledReason, "auth");
    await hookLines(out, /^login\.ended\|anthropic:claude-cli\|the Claude login reached its time limit/);

    // claude auth login: a new login, with its own end a month away. The daemon refreshes it (its token is due)
    // and clears the markings: that run is the first claude run of this whole test.
    t.writeCredentials({ expiresAt: Date.now() + 2 * 60_000, oauth: { refreshTokenExpiresAt: Date.now() + 30 * DAY } });
    await d.waitForEvent("recovered", 20_000, from);
    await d.waitForEvent("refresh.succeeded", 20_000, from);
    assert.deepEqual(fakeClaudeRefreshRuns(control), ["mcp serve"], "no claude run for the ended login");
    assert.equal(d.events("refresh.started").length, 1);
  } finally {
    await d.stop();
    outputs.push(
      d.stdout + d.stderr,
      (() => {
        try {
          return readFileSync(out, "utf8");
        } catch {
          return "";
        }
      })(),
    );
    const leaks = leakedTokens(outputs.join("\n"), [...t.planted, ...fakeClaudeTokens(control)]);
    t.cleanup();
    assert.deepEqual(leaks, []);
  }
});
