import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { detectGeneration, formatForVersion } from "../../src/stores/discovery/generation.js";
import { mergedView, splitAdapter } from "../../src/stores/split/adapter.js";
import { sidecarLock } from "../../src/stores/locks/sidecar-lock.js";
import { withLock } from "../../src/stores/locks/lock.js";
import { jsonV1Adapter } from "../../src/stores/json-v1/adapter.js";
import { DEFAULT_COOLDOWN_CONFIG } from "../../src/reconcile/cooldown.js";
import { markAgents, syncAgents } from "../../src/pass/apply.js";
import { makeHome, randomToken, withHome } from "../helpers/env.js";

const withSidecarLock = <T>(file: string, timeoutMs: number, fn: () => Promise<T>) =>
  withLock(sidecarLock(file, timeoutMs), fn);

/** An agent at `<state>/agents/<id>/agent`, as the gateway config names it (so its folder may be made). */
const agent = (dir: string) => {
  const stateDir = path.dirname(path.dirname(path.dirname(dir)));
  return { id: "main", dir, stateDir, named: true };
};

test("generation: files on disk first, then the recorded version", () => {
  const t = makeHome();
  try {
    const dir = t.agentDir("main");
    mkdirSync(dir, { recursive: true });
    const cfg = (v: string) => ({ file: "f", value: { meta: { lastTouchedVersion: v } } });
    assert.equal(detectGeneration(t.stateDir, [agent(dir)], undefined).format, "json-v1");
    assert.deepEqual(detectGeneration(t.stateDir, [agent(dir)], cfg("2026.1.30")), {
      format: "json-v1",
      version: "2026.1.30",
      reason: "the gateway config records version 2026.1.30",
    });
    assert.equal(detectGeneration(t.stateDir, [agent(dir)], cfg("2026.4.22")).format, "split");
    assert.equal(detectGeneration(t.stateDir, [agent(dir)], cfg("2026.9.6")).format, "sqlite");
    writeFileSync(path.join(dir, "auth-state.json"), "{}");
    assert.match(detectGeneration(t.stateDir, [agent(dir)], undefined).reason, /auth-state\.json exists/);
    mkdirSync(path.join(t.stateDir, "state"));
    writeFileSync(path.join(t.stateDir, "state", "openclaw.sqlite"), "");
    assert.equal(
      detectGeneration(t.stateDir, [agent(dir)], cfg("2026.1.30")).format,
      "sqlite",
      "a SQLite store on disk outranks an old recorded version",
    );
    assert.deepEqual(["2025.12.1", "2026.3.31", "2026.5.2", "2026.6.0", "2027.1.1", "nonsense"].map(formatForVersion), [
      "json-v1",
      "json-v1",
      "split",
      "sqlite",
      "sqlite",
      undefined,
    ]);
  } finally {
    t.cleanup();
  }
});

test("split: the gateway's view merges auth-state.json over inline state, key by key", () => {
  const view = mergedView({
    profiles: {
      version: 1,
      profiles: {},
      usageStats: { a: { cooldownUntil: 1 }, b: { cooldownUntil: 2 } },
      order: { anthropic: ["x"] },
    },
    state: { version: 1, usageStats: { a: { cooldownUntil: 9 } } },
  });
  assert.deepEqual(view?.usageStats, { a: { cooldownUntil: 9 }, b: { cooldownUntil: 2 } });
  assert.deepEqual(view?.order, { anthropic: ["x"] });
});

test("split: credentials go to auth-profiles.json, usage stats to auth-state.json, and nothing else moves", () =>
  withHome(async (t) => {
    const dir = t.agentDir("main");
    const other = randomToken();
    t.writeStore("main", {
      version: 1,
      profiles: { "anthropic:manual": { type: "token", provider: "anthropic", token: other } },
      extra: true,
    });
    writeFileSync(
      path.join(dir, "auth-state.json"),
      JSON.stringify({
        version: 1,
        lastGood: { anthropic: "anthropic:manual" },
        usageStats: { "anthropic:manual": { errorCount: 1 } },
        future: 1,
      }),
    );
    const token = randomToken();
    const r1 = await splitAdapter.update(
      dir,
      (s) => ({
        next: {
          ...s,
          profiles: { ...s.profiles, "anthropic:claude-cli": { type: "token", provider: "anthropic", token } },
        },
        outcome: 1,
      }),
      { lockTimeoutMs: 1000 },
    );
    assert.deepEqual(
      r1.writes.map((w) => path.basename(w.file)),
      ["auth-profiles.json"],
    );
    const r2 = await splitAdapter.update(
      dir,
      (s) => ({
        next: { ...s, usageStats: { ...s.usageStats, "anthropic:claude-cli": { cooldownUntil: 5 } } },
        outcome: 2,
      }),
      { lockTimeoutMs: 1000 },
    );
    assert.deepEqual(
      r2.writes.map((w) => path.basename(w.file)),
      ["auth-state.json"],
    );
    const profiles = JSON.parse(readFileSync(path.join(dir, "auth-profiles.json"), "utf8"));
    assert.deepEqual(Object.keys(profiles).sort(), ["extra", "profiles", "version"]);
    assert.equal(profiles.profiles["anthropic:claude-cli"].token, token);
    const state = JSON.parse(readFileSync(path.join(dir, "auth-state.json"), "utf8"));
    assert.deepEqual(state, {
      version: 1,
      lastGood: { anthropic: "anthropic:manual" },
      usageStats: { "anthropic:manual": { errorCount: 1 }, "anthropic:claude-cli": { cooldownUntil: 5 } },
      future: 1,
    });
  }));

test("every adapter: marking an agent that has no store creates nothing; syncing one creates its store", () =>
  withHome(async (t) => {
    for (const adapter of [jsonV1Adapter, splitAdapter]) {
      const dir = path.join(t.stateDir, "agents", adapter.format, "agent");
      const failure = { reason: "auth" as const, needsLogin: true, message: "dead login" };
      const marked = await markAgents(
        { agents: [agent(dir)], adapter },
        "anthropic:claude-cli",
        failure,
        "new",
        DEFAULT_COOLDOWN_CONFIG,
        { lockTimeoutMs: 1000 },
      );
      assert.deepEqual([marked[0]?.result, marked[0]?.reason], ["skipped", "no anthropic:claude-cli profile"]);
      const made = existsSync(path.join(t.stateDir, "agents", adapter.format));
      assert.equal(made, false, `${adapter.format}: nothing made`);
      const synced = await syncAgents(
        { agents: [agent(dir)], adapter },
        "anthropic:claude-cli",
        { type: "token", provider: "anthropic", token: randomToken() },
        { lockTimeoutMs: 1000 },
      );
      assert.equal(synced[0]?.result, "written");
      assert.equal(existsSync(path.join(dir, "auth-profiles.json")), true);
    }
  }));

test("sidecar lock: a live holder blocks, a dead holder's lock is taken over", () =>
  withHome(async (t) => {
    const file = path.join(t.root, "auth-profiles.json");
    writeFileSync(file, "{}");
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, createdAt: new Date().toISOString() }));
    await assert.rejects(
      withSidecarLock(file, 300, async () => 1),
      /locked by another process/,
    );
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 999_999, createdAt: new Date().toISOString() }));
    assert.equal(await withSidecarLock(file, 300, async () => 7), 7);
  }));

test("sidecar lock: proper-lockfile's lock directory of the same name blocks while fresh and is taken over once stale", () =>
  withHome(async (t) => {
    const file = path.join(t.root, "auth-profiles.json");
    writeFileSync(file, "{}");
    mkdirSync(`${file}.lock`);
    await assert.rejects(
      withSidecarLock(file, 300, async () => 1),
      /locked by another process/,
    );
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, old, old);
    assert.equal(await withSidecarLock(file, 300, async () => 7), 7);
    assert.equal(existsSync(`${file}.lock`), false, "released after use");
  }));
