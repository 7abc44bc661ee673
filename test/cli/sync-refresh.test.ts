import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fakeClaudeRefreshRuns, fakeClaudeRuns, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { type TestHome, leakedTokens, runCli, withHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
const MIN = 60_000;

/** Plants a login expiring in `expiresInMs` and stores holding it in main and work; returns the config flag. */
function plant(t: TestHome, expiresInMs: number, config: Record<string, unknown> = {}): string[] {
  const cred = t.writeCredentials({ expiresAt: Date.now() + expiresInMs });
  for (const agent of ["main", "work"]) {
    const profile = { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt };
    t.writeStore(agent, { version: 1, profiles: { [ID]: profile }, usageStats: { [ID]: { lastUsed: 1234 } } });
  }
  const file = path.join(t.root, "config.json");
  writeFileSync(file, JSON.stringify(config));
  return ["--config", file];
}

/** Our profile's stats as the gateway sees them, in either store generation. */
function stats(t: TestHome, agent: string): Record<string, unknown> {
  const state = path.join(t.agentDir(agent), "auth-state.json");
  const inline = t.readStore(agent).usageStats?.[ID] ?? {};
  return existsSync(state) ? { ...inline, ...JSON.parse(readFileSync(state, "utf8")).usageStats?.[ID] } : inline;
}

for (const storeFormat of ["json-v1", "split"]) {
  test(`sync (${storeFormat}): an expired login and a failing claude: exit 1 with the fix, and a marking`, () =>
    withHome(async (t) => {
      const control = installFakeClaude(t, "fail");
      const args = plant(t, -MIN, { storeFormat });
      const r = await runCli([...args, "sync"], t.env);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.deepEqual(fakeClaudeRefreshRuns(control), ["mcp serve"], "a failure that is no clean exit: no fallback");
      assert.match(r.stdout, /refresh: claude could not refresh the login: .*invalid_grant/);
      assert.match(r.stdout, /main\s+anthropic:claude-cli\s+marked\s+disabled \(auth\)/);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /anthropic:claude-cli is unusable in main, work: claude exited 1 and the token did not/);
      assert.match(lines[0]!, / \(claude said: .*invalid_grant\)\. Fix: on this host, run `claude` and then \/login/);
      for (const agent of ["main", "work"]) {
        assert.equal(stats(t, agent).disabledReason, "auth");
        assert.equal(stats(t, agent).lastUsed, 1234);
      }
      assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
    }));

  test(`sync (${storeFormat}): a login inside refreshMargin and a working claude: refreshed, copied, exit 0`, () =>
    withHome(async (t) => {
      const control = installFakeClaude(t, "window");
      const args = plant(t, 2 * MIN, { storeFormat });
      const r = await runCli([...args, "sync"], t.env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /refresh: claude refreshed the login: sk-ant-oat01-…\S{4} expires in (7h59m|8h)/);
      const saved = JSON.parse(readFileSync(path.join(t.claudeDir, ".credentials.json"), "utf8"));
      const fresh = saved.claudeAiOauth.accessToken;
      for (const agent of ["main", "work"]) assert.equal(t.readStore(agent).profiles[ID].token, fresh);
      const again = await runCli([...args, "sync"], t.env);
      assert.equal(again.code, 0);
      assert.doesNotMatch(again.stdout, /refresh:/, "not due any more: claude is not run");
      assert.equal(fakeClaudeRuns(control).filter((run) => run.what === "start").length, 1);
      const planted = [...t.planted, ...fakeClaudeTokens(control)];
      assert.deepEqual(leakedTokens(r.stdout + r.stderr + again.stdout, planted), []);
    }));
}

test("sync: a CLI whose mcp serve does not refresh: one more try through fallbackRefreshCommand refreshes", () =>
  withHome(async (t) => {
    const control = installFakeClaude(t, "nomcp");
    const args = plant(t, 2 * MIN);
    const r = await runCli([...args, "sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /refresh: claude refreshed the login: sk-ant-oat01-…\S{4} expires in (7h59m|8h)/);
    const request = "-p ok --model haiku --max-turns 1 --no-session-persistence";
    assert.deepEqual(fakeClaudeRefreshRuns(control), ["mcp serve", request]);
    const saved = JSON.parse(readFileSync(path.join(t.claudeDir, ".credentials.json"), "utf8"));
    const fresh = saved.claudeAiOauth.accessToken;
    for (const agent of ["main", "work"]) assert.equal(t.readStore(agent).profiles[ID].token, fresh);
  }));

test("sync: a valid token and claude missing: several failed refreshes mark nothing anywhere", () =>
  withHome(async (t) => {
    const args = plant(t, 2 * MIN, { claudePath: path.join(t.root, "no-such-claude") });
    for (let i = 0; i < 3; i++) {
      const r = await runCli([...args, "sync"], t.env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /refresh: claude could not refresh the login: cannot run .*no-such-claude: .*ENOENT$/m);
      assert.match(r.stderr, /warning: claude could not refresh the login .*; the held token still works until /);
    }
    for (const agent of ["main", "work"]) assert.deepEqual(stats(t, agent), { lastUsed: 1234 });
  }));

test("sync --no-refresh only copies: an expired login is not refreshed nor marked, and exit 1 names the fix", () =>
  withHome(async (t) => {
    const control = installFakeClaude(t, "refresh");
    const args = plant(t, -MIN);
    const r = await runCli([...args, "sync", "--no-refresh"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(fakeClaudeRuns(control).length, 0);
    assert.match(
      r.stderr,
      /anthropic:claude-cli is unusable in main, work: sk-ant-oat01-…\S{4} expired 1m(\d+s)? ago\./,
    );
    assert.match(r.stderr, /without --no-refresh/);
    assert.deepEqual(stats(t, "main"), { lastUsed: 1234 });
  }));

test("sync --dry-run runs nothing and says what it would run", () =>
  withHome(async (t) => {
    const control = installFakeClaude(t, "refresh");
    const args = plant(t, -MIN);
    const before = readFileSync(t.storePath("main"), "utf8");
    const r = await runCli([...args, "sync", "--dry-run"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const command = "claude mcp serve";
    assert.ok(r.stdout.includes(`dry run: would run \`${command}\` to refresh sk-ant-oat01-…`), r.stdout);
    assert.match(r.stdout, /to refresh sk-ant-oat01-…\S{4} \(expires 1m(\d+s)? ago\)$/m);
    assert.equal(fakeClaudeRuns(control).length, 0);
    assert.equal(readFileSync(t.storePath("main"), "utf8"), before);
    const j = JSON.parse((await runCli([...args, "sync", "--dry-run", "--json"], t.env)).stdout);
    assert.equal(j.refresh.outcome, "would-run");
  }));

test("sync: a profile the gateway marked is unusable: exit 1 with its reason", () =>
  withHome(async (t) => {
    const args = plant(t, 8 * 60 * MIN);
    const store = t.readStore("work");
    store.usageStats[ID] = { cooldownUntil: Date.now() + 30 * MIN, errorCount: 1, failureCounts: { rate_limit: 1 } };
    t.writeStore("work", store);
    const r = await runCli([...args, "sync"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /anthropic:claude-cli is unusable in work: /);
    assert.match(r.stderr, /: anthropic:claude-cli cooldown \(rate_limit\) for (29|30)m\./);
    assert.match(r.stderr, /\. Fix: wait for the cooldown to end/);
  }));
