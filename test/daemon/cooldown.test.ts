import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, fakeClaudeRefreshRuns, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken, runCli, withHome, type TestHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
const MIN = 60_000;

interface Scenario {
  mode: string;
  expiresInMs?: number;
  config?: Record<string, unknown>;
  /** Stores to plant before the daemon starts, given the planted login. */
  stores?: (cred: Cred) => Record<string, unknown>;
  loggedIn?: boolean;
  /** Extra variables in the daemon's own environment. */
  env?: Record<string, string>;
}

async function scenario(
  s: Scenario,
  fn: (d: DaemonProcess, t: TestHome, control: string) => Promise<void>,
): Promise<void> {
  const t = makeHome();
  const control = installFakeClaude(t, s.mode);
  Object.assign(t.env, s.env);
  if (s.loggedIn === false) writeFileSync(path.join(control, "logged-in"), "false");
  const cred = t.writeCredentials({ expiresAt: Date.now() + (s.expiresInMs ?? MIN) });
  for (const [agent, store] of Object.entries(s.stores?.(cred) ?? {})) t.writeStore(agent, store);
  const args: string[] = [];
  // At debug, the daemon says when a pass or a store's change was handled: tests wait on that, never sleep.
  writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ logLevel: "debug", ...s.config }));
  args.push("--config", path.join(t.root, "config.json"));
  const d = new DaemonProcess(t, args);
  try {
    await fn(d, t, control);
  } finally {
    await d.stop();
    const leaks = leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]);
    t.cleanup();
    assert.deepEqual(leaks, []);
  }
}

/** Waits until the daemon has decided on a change to `file` (`own`: our own write), logged after `from` records. */
const handled = (d: DaemonProcess, file: string, own: boolean, from: number) =>
  d.waitFor((r) => r.event === "watch.handled" && r.file === file && r.own === own, 20_000, from);

interface Cred {
  accessToken: string;
  expiresAt: number;
}

/** A store that already holds the login (so the first sync changes nothing), another profile, and stats. */
function plantedStore(
  cred: Cred,
  stats: Record<string, unknown> = {},
  other: Record<string, unknown> = { cooldownUntil: Date.now() + 30 * MIN, errorCount: 2 },
) {
  return {
    version: 1,
    profiles: {
      [ID]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt },
      "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() },
    },
    usageStats: { [ID]: { lastUsed: 1234, ...stats }, "anthropic:manual": other },
  };
}

/** What the gateway writes after "OAuth token refresh failed" or a 401 (markAuthProfileFailure, reason auth). */
const gatewayAuthMarking = () => {
  const now = Date.now();
  return { errorCount: 1, failureCounts: { auth: 1 }, lastFailureAt: now, cooldownUntil: now + MIN };
};

const twoAgents = (c: Cred) => ({ main: plantedStore(c), work: plantedStore(c) });

const near = (actual: unknown, expected: number, slack = 5_000) =>
  assert.ok(typeof actual === "number" && Math.abs(actual - expected) <= slack, `${String(actual)} ≈ ${expected}`);

test("refresh fails with invalid_grant: disabled (auth) everywhere, needs_login once with the fix; fresh credentials recover", () => {
  const other = { cooldownUntil: Date.now() + 30 * MIN, errorCount: 2 };
  return scenario(
    { mode: "fail", stores: (c) => ({ main: plantedStore(c, {}, other), work: plantedStore(c, {}, other) }) },
    async (d, t) => {
      await d.waitForEvent("refresh.failed");
      await d.waitForEvent("cooldown.marked");
      const needs = await d.waitForEvent("needs_login");
      assert.match(needs.msg, /run `claude` and then \/login/);
      assert.match(needs.msg, /claude setup-token/);
      for (const agent of ["main", "work"]) {
        const store = t.readStore(agent);
        const stats = store.usageStats[ID];
        assert.equal(stats.disabledReason, "auth");
        near(stats.disabledUntil, Date.now() + 60 * MIN);
        assert.equal(stats.errorCount, 1);
        assert.deepEqual(stats.failureCounts, { auth: 1 });
        near(stats.lastFailureAt, Date.now());
        assert.equal(stats.lastUsed, 1234, "lastUsed belongs to the gateway");
        assert.deepEqual(store.usageStats["anthropic:manual"], other, "another profile's stats are untouched");
      }
      const status = await runCli(["status"], t.env);
      assert.equal(status.code, 1);
      assert.match(status.stdout, /anthropic:claude-cli disabled \(auth\) for (5\dm|1h)/);

      const fresh = t.writeCredentials();
      const recovered = await d.waitForEvent("recovered");
      assert.ok((recovered.outageMs as number) >= 0);
      assert.deepEqual((recovered.agents as string[]).sort(), ["main", "work"]);
      for (const agent of ["main", "work"]) {
        const store = t.readStore(agent);
        assert.equal(store.profiles[ID].token, fresh.accessToken);
        assert.deepEqual(Object.keys(store.usageStats[ID]).sort(), ["lastFailureAt", "lastUsed"]);
        assert.deepEqual(store.usageStats["anthropic:manual"], other);
      }
      assert.equal(d.events("needs_login").length, 1);
    },
  );
});

test("a refresh that times out marks nothing while the token works; at expiry the token is marked, on the ladder", () =>
  scenario(
    {
      mode: "slow",
      expiresInMs: 5_000,
      config: { refreshTimeout: "1s" },
      stores: (c) => ({
        main: plantedStore(c, {
          errorCount: 1,
          failureCounts: { unknown: 1 },
          lastFailureAt: Date.now() - 2 * MIN,
          cooldownUntil: Date.now() - MIN,
        }),
        old: plantedStore(c, {
          errorCount: 3,
          failureCounts: { unknown: 3 },
          lastFailureAt: Date.now() - 25 * 60 * MIN,
        }),
      }),
    },
    async (d, t) => {
      const before = { main: t.readStore("main").usageStats[ID], old: t.readStore("old").usageStats[ID] };
      const failed = await d.waitForEvent("refresh.failed");
      assert.equal(failed.timedOut, true);
      assert.equal(failed.reason, "timeout");
      assert.equal(d.events("cooldown.marked").length, 0, "a working token is not marked for a broken refresher");
      assert.deepEqual({ main: t.readStore("main").usageStats[ID], old: t.readStore("old").usageStats[ID] }, before);
      const marked = await d.waitForEvent("cooldown.marked", 15_000);
      assert.match(marked.msg, /expired .* and claude could not refresh it \(claude did not finish within 1 s/);
      const main = t.readStore("main").usageStats[ID];
      assert.equal(main.errorCount, 2);
      assert.deepEqual(main.failureCounts, { unknown: 1, auth: 1 });
      near(main.cooldownUntil, Date.now() + 5 * MIN);
      assert.equal(main.disabledUntil, undefined);
      const old = t.readStore("old").usageStats[ID];
      assert.equal(old.errorCount, 1, "the failure window reset the stale counters");
      assert.deepEqual(old.failureCounts, { auth: 1 });
      near(old.cooldownUntil, Date.now() + MIN);
      assert.equal(d.events("needs_login").length, 0);
    },
  ));

test("a rate limit on the refresh itself marks nothing while the token works", () =>
  scenario({ mode: "ratelimit", stores: (c) => ({ main: plantedStore(c) }) }, async (d, t) => {
    const failed = await d.waitForEvent("refresh.failed");
    assert.equal(failed.reason, "rate_limit");
    // The pass that follows a failure is the one that would mark.
    await d.waitForIdle(d.records.indexOf(failed));
    assert.equal(d.events("cooldown.marked").length, 0);
    assert.deepEqual(t.readStore("main").usageStats[ID], { lastUsed: 1234 });
  }));

test("claude auth status says not logged in: disabled (auth) and needs_login", () =>
  scenario({ mode: "logout", loggedIn: false, stores: (c) => ({ main: plantedStore(c) }) }, async (d, t) => {
    const failed = await d.waitForEvent("refresh.failed");
    assert.match(failed.msg, /claude is not logged in/);
    await d.waitForEvent("needs_login");
    assert.equal(t.readStore("main").usageStats[ID].disabledReason, "auth");
  }));

test("a missing credentials file disables the profile once, and stays quiet about it", () =>
  withHome(async (t) => {
    installFakeClaude(t);
    t.writeStore("main", plantedStore({ accessToken: randomToken(), expiresAt: Date.now() + MIN }));
    t.writeStore("bare", { version: 1, profiles: {} });
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ logLevel: "debug" }));
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    try {
      const told = await d.waitForEvent("needs_login");
      // The passes asked for so far are over (the refresh-check and resync schedules fire far later).
      await d.waitForIdle(d.records.indexOf(told));
      assert.equal(d.events("needs_login").length, 1);
      assert.equal(d.events("source.missing").length, 1);
      assert.equal(t.readStore("main").usageStats[ID].disabledReason, "auth");
      assert.deepEqual(t.readStore("bare"), { version: 1, profiles: {} }, "a store without our profile is not marked");
    } finally {
      await d.stop();
    }
  }));

test("a gateway marking makes the daemon force a refresh; a fresh token clears it", () =>
  scenario({ mode: "refresh", expiresInMs: 6 * 60 * MIN }, async (d, t) => {
    await d.waitForEvent("daemon.ready");
    const store = t.readStore("main");
    // What the gateway writes after "OAuth token refresh failed" or a 401 (markAuthProfileFailure, reason auth).
    store.usageStats = {
      [ID]: { errorCount: 1, failureCounts: { auth: 1 }, lastFailureAt: Date.now(), cooldownUntil: Date.now() + MIN },
    };
    writeFileSync(t.storePath("main"), JSON.stringify(store, null, 2));
    await d.waitForEvent("cooldown.gateway");
    const started = await d.waitForEvent("refresh.started");
    assert.equal(started.trigger, "gateway-marking");
    await d.waitForEvent("refresh.succeeded");
    await d.waitForEvent("recovered");
    const stats = t.readStore("main").usageStats[ID];
    assert.equal(stats.cooldownUntil, undefined);
    assert.equal(stats.errorCount, undefined);
  }));

test("a gateway marking before claude's window runs the fallback: a model request's 401 makes claude refresh", () =>
  scenario({ mode: "revoked", expiresInMs: 6 * 60 * MIN }, async (d, t, control) => {
    await d.waitForEvent("daemon.ready");
    const store = t.readStore("main");
    const at = Date.now();
    const marking = { errorCount: 1, failureCounts: { auth: 1 }, lastFailureAt: at, cooldownUntil: at + MIN };
    store.usageStats = { [ID]: marking };
    writeFileSync(t.storePath("main"), JSON.stringify(store, null, 2));
    await d.waitForEvent("refresh.succeeded");
    await d.waitForEvent("recovered");
    assert.deepEqual(fakeClaudeRefreshRuns(control), ["-p ok --model haiku --max-turns 1 --no-session-persistence"]);
  }));

test("a gateway marking with a token that still works is left to expire; a failing refresh escalates it", () =>
  scenario({ mode: "noop", expiresInMs: 6 * 60 * MIN }, async (d, t, control) => {
    await d.waitForEvent("daemon.ready");
    const store = t.readStore("main");
    const marking = {
      errorCount: 1,
      failureCounts: { auth: 1 },
      lastFailureAt: Date.now(),
      cooldownUntil: Date.now() + MIN,
    };
    store.usageStats = { [ID]: marking };
    writeFileSync(t.storePath("main"), JSON.stringify(store, null, 2));
    await d.waitForEvent("refresh.unneeded");
    assert.deepEqual(t.readStore("main").usageStats[ID], marking);

    writeFileSync(path.join(control, "mode"), "fail");
    const again = t.readStore("main");
    again.usageStats[ID] = { ...marking, cooldownUntil: Date.now() + 2 * MIN };
    writeFileSync(t.storePath("main"), JSON.stringify(again, null, 2));
    await d.waitForEvent("needs_login");
    assert.equal(t.readStore("main").usageStats[ID].disabledReason, "auth");
  }));

test("a gateway marking while claude is missing: the retry runs, and the working token is not marked elsewhere", () =>
  scenario(
    {
      mode: "refresh",
      expiresInMs: 6 * 60 * MIN,
      config: { claudePath: "/nonexistent/claude" },
      stores: twoAgents,
    },
    async (d, t) => {
      await d.waitForEvent("daemon.ready");
      const store = t.readStore("main");
      const marking = { ...gatewayAuthMarking(), lastUsed: 1234 };
      store.usageStats[ID] = marking;
      writeFileSync(t.storePath("main"), JSON.stringify(store, null, 2));
      await d.waitForEvent("cooldown.gateway");
      const failed = await d.waitForEvent("refresh.failed");
      assert.match(failed.msg, /cannot run \/nonexistent\/claude.*; retry in \d+ s/);
      // The announced retry runs claude, although the token is far from its refresh margin.
      const wait = (failed.retryInMs as number) + 10_000;
      const retry = await d.waitFor((r) => r.event === "refresh.started" && r.trigger === "retry", wait);
      assert.ok(retry);
      await d.waitFor((r) => r.event === "refresh.failed" && r.attempt === 2, 10_000);
      assert.equal(d.events("cooldown.marked").length, 0);
      assert.deepEqual(t.readStore("main").usageStats[ID], marking, "the gateway's marking stays as it wrote it");
      const work = t.readStore("work").usageStats[ID];
      assert.deepEqual(work, { lastUsed: 1234 }, "a working token is not marked elsewhere");
    },
  ));

test("only the gateway's marking is taken for one: not our own in the same second, nor a rewrite that keeps ours", () =>
  scenario({ mode: "fail", expiresInMs: 6 * 60 * MIN, stores: twoAgents }, async (d, t) => {
    await d.waitForEvent("daemon.ready");
    // The gateway marks work; the forced refresh fails with invalid_grant and our marking of both follows.
    const work = t.readStore("work");
    work.usageStats[ID] = { lastUsed: 1234, ...gatewayAuthMarking() };
    writeFileSync(t.storePath("work"), JSON.stringify(work, null, 2));
    await d.waitForEvent("cooldown.marked");
    // Our marking's own writes (after the failure that made it) were seen and ignored; nothing waits.
    const failed = d.records.map((r) => r.event).lastIndexOf("refresh.failed");
    for (const agent of ["main", "work"]) await handled(d, t.storePath(agent), true, failed);
    await d.waitForIdle(failed);
    assert.deepEqual(
      d.events("cooldown.gateway").map((r) => r.agent),
      ["work"],
      d.stdout,
    );
    // The gateway rewrites both stores after using another profile; our marking is unchanged in them.
    const rewritten = d.records.length;
    for (const agent of ["main", "work"]) {
      const store = t.readStore(agent);
      assert.equal(store.usageStats[ID].disabledReason, "auth");
      store.usageStats["anthropic:manual"].lastUsed = Date.now();
      writeFileSync(t.storePath(agent), JSON.stringify(store, null, 2));
    }
    for (const agent of ["main", "work"]) await handled(d, t.storePath(agent), false, rewritten);
    await d.waitForIdle(rewritten);
    assert.deepEqual(
      d.events("cooldown.gateway").map((r) => r.agent),
      ["work"],
    );
  }));

test("onEvent and claude get only the variables they need, and never a secret", async () => {
  const t = makeHome();
  const out = path.join(t.root, "hook.log");
  const hook = path.join(t.root, "hook.sh");
  writeFileSync(
    hook,
    `#!/bin/sh\necho "$EVENT|$PROFILE|$REASON|$AGENTS|$(env | grep -c sk-ant)|$(env | cut -d= -f1 | sort | tr '\\n' ' ')" >> "${out}"\n`,
    { mode: 0o755 },
  );
  // Secrets a service manager may have handed the daemon: neither child may see them.
  const setupToken = randomToken();
  const env = {
    CLAUDE_CODE_OAUTH_TOKEN: setupToken,
    AWS_SECRET_ACCESS_KEY: randomToken(),
    HTTPS_PROXY: "http://127.0.0.1:9",
    LC_ALL: "C.UTF-8",
  };
  try {
    await scenario(
      { mode: "fail", env, config: { onEvent: [hook] }, stores: (c) => ({ main: plantedStore(c) }) },
      async (d, tt, control) => {
        tt.planted.push(env.CLAUDE_CODE_OAUTH_TOKEN, env.AWS_SECRET_ACCESS_KEY);
        await d.waitForEvent("needs_login");
        await waitForFile(out, /needs_login/);
        tt.writeCredentials();
        await d.waitForEvent("recovered");
        await waitForFile(out, /recovered/);
        const lines = readFileSync(out, "utf8").trim().split("\n");
        const needs = lines.find((l) => l.startsWith("needs_login|"))!.split("|");
        assert.deepEqual([needs[1], needs[3], needs[4]], [ID, "main", "0"]);
        assert.match(needs[2]!, /did not change|refresh failed/);
        // The shell itself exports PWD (and some shells OLDPWD, SHLVL, _): those are its own, not inherited.
        const names = needs[5]!
          .trim()
          .split(" ")
          .filter((n) => n !== "PWD" && n !== "OLDPWD" && n !== "SHLVL" && n !== "_");
        assert.deepEqual(names, ["AGENTS", "EVENT", "HOME", "PATH", "PROFILE", "REASON"]);
        assert.ok(lines.some((l) => l.startsWith("refresh.failed|")));
        assert.deepEqual(leakedTokens(readFileSync(out, "utf8"), tt.planted), []);
        const claudeEnvs = readFileSync(path.join(control, "env.log"), "utf8").trim().split("\n");
        for (const line of claudeEnvs) {
          const seen = line.split(" ");
          assert.ok(!seen.includes("CLAUDE_CODE_OAUTH_TOKEN") && !seen.includes("AWS_SECRET_ACCESS_KEY"), line);
          for (const name of ["HOME", "PATH", "USER", "HTTPS_PROXY", "LC_ALL"])
            assert.ok(seen.includes(name), `${name} missing from claude's environment: ${line}`);
        }
      },
    );
  } finally {
    t.cleanup();
  }
});

async function waitForFile(file: string, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if (pattern.test(readFileSync(file, "utf8"))) return;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${file} never matched ${pattern}`);
}

test("cooldown clear: clears a cooldown, refuses a disabled login without --force and says why", () =>
  withHome(async (t) => {
    const c = t.writeCredentials();
    t.writeStore(
      "main",
      plantedStore(c, { cooldownUntil: Date.now() + 5 * MIN, errorCount: 2, failureCounts: { unknown: 2 } }),
    );
    t.writeStore(
      "work",
      plantedStore(c, { disabledUntil: Date.now() + 30 * MIN, disabledReason: "auth", errorCount: 1 }),
    );
    const refused = await runCli(["cooldown", "clear"], t.env);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /main\s+cleared/);
    assert.match(
      refused.stdout,
      /work\s+skipped\s+disabled, not cleared: the login needs a person: run `claude` and then \/login .*--force clears it anyway/,
    );
    assert.deepEqual(t.readStore("main").usageStats[ID], { lastUsed: 1234 });
    assert.equal(t.readStore("work").usageStats[ID].disabledReason, "auth");
    const forced = await runCli(["cooldown", "clear", "--agent", "work", "--force"], t.env);
    assert.equal(forced.code, 0, forced.stdout + forced.stderr);
    assert.deepEqual(t.readStore("work").usageStats[ID], { lastUsed: 1234 });
    assert.equal(t.readStore("main").usageStats["anthropic:manual"].errorCount, 2, "other profiles untouched");
    const unknown = await runCli(["cooldown", "clear", "--agent", "nope"], t.env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no agent "nope" \(found: main, work\)/);
    rmSync(t.storePath("work"));
  }));
