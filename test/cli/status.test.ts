import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";
import { leakedTokens, runCli, withHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";

test("status: exit 0 when every agent holds the source's credential", () =>
  withHome(async (t) => {
    t.writeCredentials();
    mkdirSync(t.agentDir("work"), { recursive: true });
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    const r = await runCli(["status"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /agent main: anthropic:claude-cli token sk-ant-oat01-…\S{4} expires in (7h5\dm|8h) \(matches source\)/,
    );
    assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
    const j = JSON.parse((await runCli(["status", "--json"], t.env)).stdout);
    assert.equal(j.exitCode, 0);
    assert.equal(j.agents.length, 2);
    assert.equal(j.agents[0].profiles[0].matchesSource, true);
  }));

test("status: exit 2 when expiring within the warning window, 1 when missing, marked or expired", () =>
  withHome(async (t) => {
    t.writeCredentials({ expiresAt: Date.now() + 30 * 60_000 });
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.equal((await runCli(["status"], t.env)).code, 2, "30 minutes left is inside the default 1h window");

    const store = t.readStore("main");
    store.usageStats = {
      [ID]: { cooldownUntil: Date.now() + 300_000, errorCount: 2 },
      "anthropic:other": { disabledUntil: Date.now() + 600_000, disabledReason: "billing" },
    };
    t.writeStore("main", store);
    const marked = await runCli(["status"], t.env);
    assert.equal(marked.code, 1);
    assert.match(marked.stdout, /anthropic:claude-cli cooldown for [45]m/);
    assert.match(marked.stdout, /anthropic:other disabled \(billing\) for (9|10)m/);

    mkdirSync(t.agentDir("new"), { recursive: true });
    const missing = await runCli(["status"], t.env);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /agent new: anthropic:claude-cli missing/);

    t.writeCredentials({ expiresAt: Date.now() - 60_000 });
    const expired = await runCli(["status", "--json"], t.env);
    assert.equal(expired.code, 1);
  }));

test("status: a missing login exits 1 and says what to run", () =>
  withHome(async (t) => {
    const r = await runCli(["status"], t.env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /source\s+not logged in to Claude Code/);
  }));
