/**
 * The SQLite adapter under contention: it waits for the gateway's lifecycle lock and for a busy database
 * past the gateway's 5 s busy timeout, instead of failing, and gives up in one line at its own lock timeout.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { sqliteAdapter } from "../../src/stores/sqlite/adapter.js";
import { lockPath } from "../../src/stores/sqlite/lifecycle-lock.js";
import { sqliteUsageRules } from "../../src/reconcile/cooldown-sqlite.js";
import { reconcileProfile } from "../../src/reconcile/profile.js";
import type { AuthProfileStore } from "../../src/types.js";
import { randomToken, withHome } from "../helpers/env.js";
import { agentDbPath, readAgentCells, readStateCells, writeAgentDb, writeStateDb } from "../helpers/sqlite-store.js";

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "helpers", "sqlite-holder.js");

function hold(file: string, mode: "exclusive" | "immediate", ms: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HOLDER, file, mode, String(ms)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`holder exited ${code} before holding ${file}`)));
  });
}

const token = (t: string) => ({ type: "token" as const, provider: "anthropic", token: t });
/** The pure change a sync makes: put a token under anthropic:manual. */
const putManual = (secret: string) => (store: AuthProfileStore) =>
  reconcileProfile(store, "anthropic:manual", token(secret), sqliteUsageRules);

test("sqlite adapter: a write to the state database waits while the gateway holds its lifecycle lock", () =>
  withHome(async (t) => {
    const stateDb = writeStateDb(t, { store: { version: 1, profiles: {} } });
    const adapter = sqliteAdapter(t.stateDir, t.env);
    const holder = await hold(lockPath("state-lifecycle", stateDb), "exclusive", 1_500);
    const started = Date.now();
    const secret = randomToken();
    await adapter.update(t.agentDir("main"), putManual(secret), { lockTimeoutMs: 10_000 });
    const waited = Date.now() - started;
    assert.ok(waited >= 1_000, `the write waited for the lock (${waited} ms)`);
    assert.deepEqual(readStateCells(t).store?.profiles, { "anthropic:manual": token(secret) });
    holder.kill();
  }));

test("sqlite adapter: the lifecycle lock held past our lock timeout is one line, nothing written", () =>
  withHome(async (t) => {
    const stateDb = writeStateDb(t, { store: { version: 1, profiles: {} } });
    const adapter = sqliteAdapter(t.stateDir, t.env);
    const holder = await hold(lockPath("state-lifecycle", stateDb), "exclusive", 8_000);
    try {
      // The adapter waits at least the gateway's own 5 s busy timeout, whatever the caller asks for.
      const update = adapter.update(t.agentDir("main"), putManual(randomToken()), { lockTimeoutMs: 100 });
      await assert.rejects(update, (err: Error) => {
        const line = /^the gateway's state lock \S+state-lifecycle\.\w{8}\.lock\.sqlite was not free: .*; nothing/;
        assert.match(err.message, line);
        return true;
      });
      assert.deepEqual(readStateCells(t).store?.profiles, {});
    } finally {
      holder.kill();
    }
  }));

test("sqlite adapter: an agent database busy past the gateway's 5 s busy timeout is waited for, not a failure", () =>
  withHome(async (t) => {
    writeStateDb(t, { store: { version: 1, profiles: {} } });
    writeAgentDb(t, "work", { store: { version: 1, profiles: { "anthropic:manual": token(randomToken()) } } });
    const adapter = sqliteAdapter(t.stateDir, t.env);
    const holder = await hold(agentDbPath(t, "work"), "immediate", 6_500);
    const secret = randomToken();
    const started = Date.now();
    await adapter.update(t.agentDir("work"), putManual(secret), { lockTimeoutMs: 20_000 });
    assert.ok(Date.now() - started >= 6_000, "it waited for the writer to finish");
    assert.deepEqual(readAgentCells(t, "work").store?.profiles, { "anthropic:manual": token(secret) });
    holder.kill();
  }));
