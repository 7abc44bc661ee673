/**
 * The one store transaction (src/stores/transaction.ts), through every adapter and its real lock: no lock when
 * nothing changes, a re-read inside the lock that keeps a concurrent writer's change, an abort (nothing
 * written) when the lock was taken over, and `beforeWrite` told before the store changes on disk.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import lockfile from "proper-lockfile";
import type { StoreAdapter, WriteIntent } from "../../src/stores/adapter.js";
import { jsonV1Adapter } from "../../src/stores/json-v1/adapter.js";
import { splitAdapter } from "../../src/stores/split/adapter.js";
import { sqliteAdapter } from "../../src/stores/sqlite/adapter.js";
import { lockPath } from "../../src/stores/sqlite/lifecycle-lock.js";
import { reconcileProfile } from "../../src/reconcile/profile.js";
import type { AuthProfileStore } from "../../src/types.js";
import { randomToken, type TestHome, withHome } from "../helpers/env.js";
import { readStateCells, stateDbPath, writeStateDb } from "../helpers/sqlite-store.js";

type Profiles = Record<string, unknown>;
const token = (secret: string) => ({ type: "token" as const, provider: "anthropic", token: secret });

interface Fixture {
  name: string;
  /** A store holding `profiles`; returns the adapter. */
  setup(t: TestHome, profiles: Profiles): StoreAdapter;
  /** The profiles on disk, read synchronously (as another process would see them now). */
  profiles(t: TestHome): Profiles;
  /** A gateway's write, made between our peek and our lock. */
  gatewayPut(t: TestHome, id: string, secret: string): void;
  /** Holds the store's lock as the gateway does; returns the release. */
  hold(t: TestHome): Promise<() => void>;
  /** Another process takes our held lock over; returns what it made, which must survive our release. */
  takeOver(t: TestHome): string;
}

const jsonProfiles = (t: TestHome) =>
  (JSON.parse(readFileSync(t.storePath("main"), "utf8")) as AuthProfileStore).profiles;
const jsonPut = (t: TestHome, id: string, secret: string) => {
  const store = JSON.parse(readFileSync(t.storePath("main"), "utf8")) as AuthProfileStore;
  store.profiles[id] = token(secret);
  writeFileSync(t.storePath("main"), JSON.stringify(store));
};

const fixtures: Fixture[] = [
  {
    name: "json-v1 (proper-lockfile directory)",
    setup(t, profiles) {
      t.writeStore("main", { version: 1, profiles });
      return jsonV1Adapter;
    },
    profiles: jsonProfiles,
    gatewayPut: jsonPut,
    async hold(t) {
      const release = await lockfile.lock(t.storePath("main"), { stale: 30_000 });
      return () => void release();
    },
    takeOver(t) {
      const dir = `${t.storePath("main")}.lock`;
      rmSync(dir, { recursive: true });
      mkdirSync(dir);
      return dir;
    },
  },
  {
    name: "split (sidecar lock file)",
    setup(t, profiles) {
      t.writeStore("main", { version: 1, profiles });
      writeFileSync(path.join(t.agentDir("main"), "auth-state.json"), JSON.stringify({ version: 1 }));
      return splitAdapter;
    },
    profiles: jsonProfiles,
    gatewayPut: jsonPut,
    hold(t) {
      const file = `${t.storePath("main")}.lock`;
      writeFileSync(file, JSON.stringify({ pid: process.pid, createdAt: new Date().toISOString() }));
      return Promise.resolve(() => rmSync(file, { force: true }));
    },
    takeOver(t) {
      const file = `${t.storePath("main")}.lock`;
      rmSync(file);
      writeFileSync(file, JSON.stringify({ pid: process.pid, createdAt: new Date().toISOString() }));
      return file;
    },
  },
  {
    name: "sqlite (lifecycle lock + BEGIN IMMEDIATE)",
    setup(t, profiles) {
      writeStateDb(t, { store: { version: 1, profiles } });
      mkdirSync(t.agentDir("main"), { recursive: true });
      return sqliteAdapter(t.stateDir, t.env);
    },
    profiles: (t) => (readStateCells(t).store?.profiles ?? {}) as Profiles,
    gatewayPut(t, id, secret) {
      const db = new Database(stateDbPath(t));
      try {
        db.exec("BEGIN IMMEDIATE");
        const row = db.prepare("SELECT value_json AS json FROM config_machine_state WHERE state_key = ?");
        const store = JSON.parse((row.get("authProfiles.store") as { json: string }).json) as AuthProfileStore;
        store.profiles[id] = token(secret);
        db.prepare("UPDATE config_machine_state SET value_json = ? WHERE state_key = ?").run(
          JSON.stringify(store),
          "authProfiles.store",
        );
        db.exec("COMMIT");
      } finally {
        db.close();
      }
    },
    hold(t) {
      const file = lockPath("state-lifecycle", stateDbPath(t));
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const db = new Database(file);
      db.exec("PRAGMA journal_mode = MEMORY; BEGIN EXCLUSIVE;");
      const state = new Database(stateDbPath(t));
      state.exec("BEGIN IMMEDIATE");
      return Promise.resolve(() => {
        for (const d of [db, state]) {
          d.exec("ROLLBACK");
          d.close();
        }
      });
    },
    takeOver(t) {
      const file = lockPath("state-lifecycle", stateDbPath(t));
      rmSync(file);
      writeFileSync(file, "");
      return file;
    },
  },
];

/** The pure change a sync makes, by the adapter's own cooldown rules. */
const put = (adapter: StoreAdapter, id: string, secret: string) => (store: AuthProfileStore) =>
  reconcileProfile(store, id, token(secret), adapter.usage);

for (const f of fixtures) {
  test(`transaction, ${f.name}: nothing to change is decided on the peek, without waiting for the held lock`, () =>
    withHome(async (t) => {
      const secret = randomToken();
      const adapter = f.setup(t, { "anthropic:manual": token(secret) });
      const release = await f.hold(t);
      try {
        const started = Date.now();
        // A lock timeout no loaded machine comes near: the update ends long before, so it did not wait.
        const result = await adapter.update(t.agentDir("main"), put(adapter, "anthropic:manual", secret), {
          lockTimeoutMs: 120_000,
        });
        assert.equal(result.outcome.result, "unchanged");
        assert.deepEqual(result.writes, []);
        assert.ok(Date.now() - started < 60_000, `it did not wait for the lock (${Date.now() - started} ms)`);
      } finally {
        release();
      }
    }));

  test(`transaction, ${f.name}: the change is decided again inside the lock, keeping a concurrent write`, () =>
    withHome(async (t) => {
      const adapter = f.setup(t, {});
      const ours = randomToken();
      const theirs = randomToken();
      let calls = 0;
      const change = (store: AuthProfileStore) => {
        // Between our peek and our lock, the gateway writes a profile of its own.
        if (++calls === 1) f.gatewayPut(t, "anthropic:gateway", theirs);
        return put(adapter, "anthropic:ours", ours)(store);
      };
      const result = await adapter.update(t.agentDir("main"), change, { lockTimeoutMs: 10_000 });
      assert.equal(calls, 2, "peeked, then decided again on the re-read inside the lock");
      assert.equal(result.outcome.result, "written");
      assert.deepEqual(f.profiles(t), { "anthropic:gateway": token(theirs), "anthropic:ours": token(ours) });
    }));

  test(`transaction, ${f.name}: a lock taken over while held aborts the write; the new holder's lock stays`, () =>
    withHome(async (t) => {
      const adapter = f.setup(t, {});
      let made: string | undefined;
      const change = (store: AuthProfileStore) => {
        if (made === undefined && store !== undefined && calls++ === 1) made = f.takeOver(t);
        return put(adapter, "anthropic:ours", randomToken())(store);
      };
      let calls = 0;
      const intents: WriteIntent[] = [];
      const update = adapter.update(t.agentDir("main"), change, {
        lockTimeoutMs: 10_000,
        beforeWrite: (intent) => intents.push(intent),
      });
      await assert.rejects(update, (err: Error & { code?: string }) => {
        assert.match(err.message, /(taken over as stale|replaced while held); nothing written$/);
        assert.equal(err.code, "store.locked");
        return true;
      });
      assert.deepEqual(f.profiles(t), {}, "nothing written");
      assert.deepEqual(intents, [], "no write announced");
      assert.ok(made && existsSync(made), "the new holder's lock is left alone");
      rmSync(made, { recursive: true, force: true });
    }));

  test(`transaction, ${f.name}: beforeWrite is told the write before the store changes on disk`, () =>
    withHome(async (t) => {
      const adapter = f.setup(t, {});
      const secret = randomToken();
      const seen: Array<{ intent: WriteIntent; onDisk: Profiles }> = [];
      const result = await adapter.update(t.agentDir("main"), put(adapter, "anthropic:ours", secret), {
        lockTimeoutMs: 10_000,
        beforeWrite: (intent) => seen.push({ intent, onDisk: f.profiles(t) }),
      });
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0]!.onDisk, {}, "told before the rename (or COMMIT)");
      assert.deepEqual(seen[0]!.intent.store.profiles, { "anthropic:ours": token(secret) });
      assert.deepEqual(seen[0]!.intent.writes, result.writes);
      assert.deepEqual(f.profiles(t), { "anthropic:ours": token(secret) });
    }));
}

test("json: a removed agent's folder is not made again; a named agent's missing folder is", () =>
  withHome(async (t) => {
    const secret = randomToken();
    t.planted.push(secret);
    const change = (store: AuthProfileStore) =>
      reconcileProfile(store, "anthropic:claude-cli", token(secret), jsonV1Adapter.usage);
    const options = { lockTimeoutMs: 1_000, stateDir: t.stateDir };
    for (const adapter of [jsonV1Adapter, splitAdapter]) {
      // Found on disk by the pass, then `rm -rf`-ed before its write: the folder stays gone.
      await assert.rejects(
        adapter.update(t.agentDir("gone"), change, { ...options, makeAgentDir: false }),
        /agent folder .*gone\/agent was removed; not made again/,
      );
      assert.equal(existsSync(path.join(t.stateDir, "agents", "gone")), false, adapter.format);
      // Named by the gateway config: made, as the gateway would make it.
      const dir = t.agentDir(`named-${adapter.format}`);
      await adapter.update(dir, change, { ...options, makeAgentDir: true });
      const store = JSON.parse(readFileSync(path.join(dir, "auth-profiles.json"), "utf8")) as AuthProfileStore;
      assert.equal((store.profiles["anthropic:claude-cli"] as { token: string }).token, secret, adapter.format);
    }
  }));
