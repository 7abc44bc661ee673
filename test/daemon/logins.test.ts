import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fingerprint } from "../../src/core/fingerprint.js";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, runCli, type TestHome } from "../helpers/env.js";

const PERSONAL = "anthropic:personal";
const WORK = "anthropic:work";

/** Two logins in their own config dirs; `work`'s claude runs in the mode given, `personal`'s refreshes. */
function twoLogins(t: TestHome, workMode: string, expiresInMs: number, extra: Record<string, unknown> = {}) {
  const dirs = { personal: path.join(t.root, "claude-personal"), work: path.join(t.root, "claude-work") };
  const creds: Record<string, string> = {};
  for (const [name, dir] of Object.entries(dirs)) {
    mkdirSync(dir, { recursive: true });
    t.claudeDir = dir;
    creds[name] = t.writeCredentials({ expiresAt: Date.now() + expiresInMs }).accessToken;
  }
  writeFileSync(path.join(dirs.work, "mode"), workMode);
  const config = {
    ...extra,
    logins: [
      { claudeConfigDir: dirs.personal, profileId: PERSONAL },
      { claudeConfigDir: dirs.work, profileId: WORK },
    ],
  };
  const file = path.join(t.root, "config.json");
  writeFileSync(file, JSON.stringify(config));
  return { dirs, creds, file };
}

const held = (dir: string) =>
  JSON.parse(readFileSync(path.join(dir, ".credentials.json"), "utf8")).claudeAiOauth.accessToken as string;

test("daemon: two logins, one claude failing: only its profile is marked, the other is refreshed", async () => {
  const t = makeHome();
  const control = installFakeClaude(t);
  const { dirs, file } = twoLogins(t, "fail", 2 * 60_000);
  const d = new DaemonProcess(t, ["--config", file]);
  try {
    const marked = await d.waitFor((r) => r.event === "cooldown.marked");
    assert.equal(marked.profile, WORK);
    assert.equal(marked.login, WORK, "the line names the login");
    assert.equal(marked.claudeConfigDir, dirs.work);
    const failed = d.events("refresh.failed");
    assert.ok(failed.length >= 1 && failed.every((r) => r.login === WORK), "only work's claude failed");
    await d.waitFor((r) => r.event === "refresh.succeeded" && r.login === PERSONAL);
    const fresh = held(dirs.personal);
    await d.waitFor((r) => r.event === "sync.written" && r.fingerprint === fingerprint(fresh));
    const store = t.readStore("main");
    assert.equal(store.profiles[PERSONAL].token, fresh, "personal is refreshed and synced");
    assert.equal(store.profiles[WORK].token, held(dirs.work), "work keeps its own token");
    assert.equal(store.usageStats[WORK].disabledReason, "auth");
    assert.equal(store.usageStats?.[PERSONAL], undefined, "personal is never marked");
    assert.equal(d.events("cooldown.marked").filter((r) => r.profile !== WORK).length, 0);
    assert.equal(store.profiles["anthropic:claude-cli"], undefined, "no profile for the unconfigured default");
  } finally {
    const { code } = await d.stop();
    const leaks = leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]);
    t.cleanup();
    assert.deepEqual(leaks, []);
    assert.ok(code === 0 || code === null, `daemon exit code ${code}: ${d.stderr}`);
  }
});

test("daemon: two logins' refreshes overlap, a login's own never do", async () => {
  const t = makeHome();
  const control = installFakeClaude(t);
  writeFileSync(path.join(control, "mode"), "slow");
  const { file } = twoLogins(t, "slow", 2 * 60_000, { refreshTimeout: "2s", logLevel: "debug" });
  const d = new DaemonProcess(t, ["--config", file]);
  try {
    for (const login of [PERSONAL, WORK]) {
      await d.waitFor((r) => r.event === "refresh.failed" && r.login === login, 30_000);
    }
    // The passes that follow a failure ask again while the backoff runs: wait until they are over.
    await d.waitForIdle(d.records.map((r) => r.event).lastIndexOf("refresh.failed"));
    const refresh = d.records.filter((r) => r.event === "refresh.started" || r.event === "refresh.failed");
    const firstFailed = refresh.findIndex((r) => r.event === "refresh.failed");
    const startedBefore = new Set(refresh.slice(0, firstFailed).map((r) => r.login));
    assert.deepEqual([...startedBefore].sort(), [PERSONAL, WORK], "both ran at once");
    for (const login of [PERSONAL, WORK]) {
      const own = refresh.filter((r) => r.login === login).map((r) => r.event);
      for (let i = 1; i < own.length; i++) assert.notEqual(own[i], own[i - 1], `${login}: ${own.join(", ")}`);
    }
  } finally {
    const { code } = await d.stop();
    t.cleanup();
    assert.ok(code === 0 || code === null, `daemon exit code ${code}: ${d.stderr}`);
  }
});

test("daemon: status gives every login's next refresh; SIGHUP swaps a login for another", async () => {
  const t = makeHome();
  installFakeClaude(t);
  const { dirs, file } = twoLogins(t, "ok", 3 * 3600_000);
  const d = new DaemonProcess(t, ["--config", file]);
  try {
    await d.waitForEvent("daemon.ready");
    const status = await runCli(["--config", file, "status"], t.env);
    assert.match(status.stdout, /refresh due: anthropic:personal in 2h\d+m, anthropic:work in 2h\d+m/);
    // Replace `work` by `team`, a third login in its own dir.
    const team = path.join(t.root, "claude-team");
    mkdirSync(team);
    t.claudeDir = team;
    const teamToken = t.writeCredentials({ expiresAt: Date.now() + 5 * 3600_000 }).accessToken;
    const logins = [
      { claudeConfigDir: dirs.personal, profileId: PERSONAL },
      { claudeConfigDir: team, profileId: "anthropic:team" },
    ];
    writeFileSync(file, JSON.stringify({ logins }));
    const from = d.records.length;
    d.child.kill("SIGHUP");
    await d.waitForEvent("daemon.reloaded", 10_000, from);
    await d.waitFor((r) => r.event === "sync.written" && r.fingerprint === fingerprint(teamToken), 10_000, from);
    assert.equal(t.readStore("main").profiles["anthropic:team"].token, teamToken);
    const json = JSON.parse((await runCli(["--config", file, "status", "--json"], t.env)).stdout);
    const ids = (json.daemon.logins as Array<{ profileId: string; nextRefreshAt?: number }>).map((l) => l.profileId);
    assert.deepEqual(ids, [PERSONAL, "anthropic:team"], "the removed login is no longer reported");
    const teamDue = json.daemon.logins[1].nextRefreshAt as number;
    assert.ok(teamDue > Date.now() + 4 * 3600_000, `team's refresh is due near its own expiry (${teamDue})`);
  } finally {
    const { code } = await d.stop();
    t.cleanup();
    assert.ok(code === 0 || code === null, `daemon exit code ${code}: ${d.stderr}`);
  }
});

test("daemon: SIGHUP with one Claude folder named twice (a symlink) keeps the running config, one error line", async () => {
  const t = makeHome();
  installFakeClaude(t);
  const { dirs, file } = twoLogins(t, "ok", 3 * 3600_000);
  const d = new DaemonProcess(t, ["--config", file]);
  try {
    await d.waitForEvent("daemon.ready");
    const alias = path.join(t.root, "personal-alias");
    symlinkSync(dirs.personal, alias);
    const logins = [
      { claudeConfigDir: dirs.personal, profileId: PERSONAL },
      { claudeConfigDir: dirs.work, profileId: WORK },
      { claudeConfigDir: alias, profileId: "anthropic:again" },
    ];
    writeFileSync(file, JSON.stringify({ logins }));
    const from = d.records.length;
    d.child.kill("SIGHUP");
    const invalid = await d.waitForEvent("config.invalid", 10_000, from);
    assert.match(invalid.msg, /logins\.2\.claudeConfigDir: .*personal-alias is the same folder as logins\.0; keeping/);
    // config.invalid is the reload's answer, in place of daemon.reloaded: the running config with two logins stays.
    assert.equal(d.records.slice(from).filter((r) => r.level === "error").length, 1);
    assert.equal(d.events("daemon.reloaded").length, 0);
  } finally {
    await d.stop();
    t.cleanup();
  }
});
