/**
 * The SQLite adapter's session (StoreAdapter.session): inside one, the SQLite child keeps its connections across
 * calls (a pass reads the shared database once per agent); when the last overlapping session ends, none is left
 * open and nothing of ours is left beside the databases. What a connection kept must never be read stale: a
 * commit by another connection, our own write, and a database file replaced under the path are all seen.
 */
import assert from "node:assert/strict";
import { existsSync, renameSync } from "node:fs";
import { test } from "node:test";
import Database from "better-sqlite3";
import { makeHome, randomToken, type TestHome } from "../helpers/env.js";
import { agentDbPath, stateDbPath, writeAgentDb, writeStateDb } from "../helpers/sqlite-store.js";
import { snapshotTree } from "../helpers/tree.js";
import { sqliteAdapter } from "../../src/stores/sqlite/adapter.js";
import type { AuthProfileStore } from "../../src/types.js";

const token = (secret: string) => ({ type: "token", provider: "anthropic", token: secret });
const store = (id: string, secret: string) => ({ version: 1, profiles: { [id]: token(secret) } });
const profileIds = (view: AuthProfileStore | undefined) => Object.keys(view?.profiles ?? {}).sort();

function withGateway(fn: (t: TestHome) => Promise<void>): () => Promise<void> {
  return async () => {
    const t = makeHome();
    try {
      writeStateDb(t, { store: store("anthropic:shared", randomToken()) });
      writeAgentDb(t, "main");
      writeAgentDb(t, "work", { store: store("anthropic:work", randomToken()) });
      await fn(t);
    } finally {
      t.cleanup();
    }
  };
}

/** The store cell of work's own database, written as the gateway writes it, from its own connection. */
function gatewayWrites(file: string, value: object): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.prepare("UPDATE auth_profile_store SET store_json = ?, updated_at = ? WHERE store_key = 'primary'").run(
      JSON.stringify(value),
      Date.now(),
    );
  } finally {
    db.close();
  }
}

test(
  "sqlite session: connections are kept while it lasts, and none is left once it ends",
  withGateway(async (t) => {
    const adapter = sqliteAdapter(t.stateDir, t.env);
    const before = snapshotTree(t.stateDir);
    await adapter.session!(async () => {
      await adapter.read(t.agentDir("main"));
      await adapter.read(t.agentDir("work"));
      // An open connection to a WAL database has its -wal file: the state database is still held.
      assert.equal(existsSync(`${stateDbPath(t)}-wal`), true);
      assert.equal(existsSync(`${agentDbPath(t, "work")}-wal`), true);
    });
    assert.deepEqual(snapshotTree(t.stateDir), before, "byte for byte, no -wal or -shm left behind");
    // Outside a session a call holds nothing once it returns.
    await adapter.read(t.agentDir("work"));
    assert.deepEqual(snapshotTree(t.stateDir), before);
  }),
);

test(
  "sqlite session: a commit by another connection between two reads is read, not what was read before",
  withGateway(async (t) => {
    const adapter = sqliteAdapter(t.stateDir, t.env);
    await adapter.session!(async () => {
      assert.deepEqual(profileIds(await adapter.read(t.agentDir("work"))), ["anthropic:shared", "anthropic:work"]);
      gatewayWrites(agentDbPath(t, "work"), store("anthropic:other", randomToken()));
      assert.deepEqual(profileIds(await adapter.read(t.agentDir("work"))), ["anthropic:other", "anthropic:shared"]);
    });
  }),
);

test(
  "sqlite session: our own write is read back, and a database replaced under its path is read anew",
  withGateway(async (t) => {
    const adapter = sqliteAdapter(t.stateDir, t.env);
    const work = t.agentDir("work");
    const secret = randomToken();
    const add = (view: AuthProfileStore) => ({
      next: { ...view, profiles: { ...view.profiles, "anthropic:added": token(secret) } },
      outcome: "written",
    });
    await adapter.session!(async () => {
      await adapter.read(work);
      // A new profile goes to the shared store, which every agent reads.
      await adapter.update(work, add, { lockTimeoutMs: 5_000 });
      assert.deepEqual(profileIds(await adapter.read(work)), ["anthropic:added", "anthropic:shared", "anthropic:work"]);
      // `openclaw doctor --fix` style: a new database renamed over the old one, which a kept connection still has.
      const fresh = makeHome();
      try {
        writeAgentDb(fresh, "work", { store: store("anthropic:renamed", randomToken()) });
        renameSync(agentDbPath(fresh, "work"), agentDbPath(t, "work"));
      } finally {
        fresh.cleanup();
      }
      const after = profileIds(await adapter.read(work));
      assert.deepEqual(after, ["anthropic:added", "anthropic:renamed", "anthropic:shared"]);
    });
  }),
);
