/**
 * Schema by shape (src/stores/sqlite/schema.ts) on databases with the gateway's own DDL (test/helpers/
 * sqlite-store.ts; interop/ repeats it on databases the real 2026.9.6 made): what a later gateway may do to them
 * (another user_version, a contentVersion row, a table of its own) is served; a change to what we read or write
 * is refused in one line, and the refused file is left byte for byte, with no -wal or -shm of ours.
 */
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { test } from "node:test";
import Database from "better-sqlite3";
import { makeHome, randomToken, type TestHome } from "../helpers/env.js";
import {
  agentDbPath,
  readAgentCells,
  readDatabase,
  readStateCells,
  restamp,
  type Restamp,
  stateDbPath,
  writeAgentDb,
  writeStateDb,
} from "../helpers/sqlite-store.js";
import { snapshotTree } from "../helpers/tree.js";
import { findingsText, inspectDatabases } from "../../src/stores/sqlite/inspect.js";
import { type DatabaseKind, readSchema, schemaRefusal, TESTED_SCHEMA } from "../../src/stores/sqlite/schema.js";
import { sqliteAdapter } from "../../src/stores/sqlite/adapter.js";
import type { AuthProfileStore } from "../../src/types.js";

const token = (secret: string) => ({ type: "token", provider: "anthropic", token: secret });
const agents = (t: TestHome) => ["main", "work"].map((id) => ({ id, dir: t.agentDir(id), stateDir: t.stateDir }));

/** The state database holding the shared store, and work's own database. */
function twoDatabases(t: TestHome): void {
  writeStateDb(t, { store: { version: 1, profiles: { "anthropic:manual": token(randomToken()) } } });
  writeAgentDb(t, "work", { store: { version: 1, profiles: { "anthropic:work": token(randomToken()) } } });
}

const reading = (file: string, kind: DatabaseKind) => readDatabase(file, (db) => readSchema(db, kind));
const refusal = (file: string, kind: DatabaseKind) => schemaRefusal(kind, file, reading(file, kind));

/** Writes a setup-token profile through the adapter, as `sync` does. */
async function addProfile(t: TestHome, id: string, secret: string) {
  const change = (store: AuthProfileStore) => ({
    next: { ...store, profiles: { ...store.profiles, [id]: token(secret) } },
    outcome: "written",
  });
  return sqliteAdapter(t.stateDir, t.env).update(t.agentDir("work"), change, { lockTimeoutMs: 5_000 });
}

function withDatabases(fn: (t: TestHome) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const t = makeHome();
    try {
      twoDatabases(t);
      await fn(t);
    } finally {
      t.cleanup();
    }
  };
}

test(
  "schema: as the gateway makes them, both databases are served at the versions tested",
  withDatabases(async (t) => {
    assert.deepEqual(reading(stateDbPath(t), "state"), { userVersion: 18, version: 18, differences: [] });
    assert.deepEqual(reading(agentDbPath(t, "work"), "agent"), { userVersion: 23, version: 23, differences: [] });
    const text = findingsText(await inspectDatabases(t.stateDir, agents(t), t.env));
    assert.equal(
      text,
      "state: state schema 18 (as tested, OpenClaw 2026.9.6): auth tables as expected; " +
        "work: agent schema 23 (as tested, OpenClaw 2026.9.6): auth tables as expected",
    );
    assert.deepEqual(TESTED_SCHEMA, { state: 18, agent: 23 });
  }),
);

test(
  "schema: agent 24, state 19, state 20 by its contentVersion row and a table we never use: all served",
  withDatabases(async (t) => {
    restamp(agentDbPath(t, "work"), { userVersion: 24, newTable: "session_archive_v24" });
    restamp(stateDbPath(t), { userVersion: 19, contentVersion: 20, newTable: "gateway_things" });
    const state = reading(stateDbPath(t), "state");
    assert.deepEqual(state, { userVersion: 19, contentVersion: 20, version: 20, differences: [] });
    const findings = await inspectDatabases(t.stateDir, agents(t), t.env);
    assert.deepEqual(
      findings.map((f) => [f.name, f.version, f.newer, f.refusal]),
      [
        ["state", 20, true, undefined],
        ["work", 24, true, undefined],
      ],
    );
    assert.equal(
      findingsText(findings),
      "state: state schema 20 (user_version 19, contentVersion 20; tested up to 18, OpenClaw 2026.9.6): " +
        "auth tables as expected; work: agent schema 24 (tested up to 23, OpenClaw 2026.9.6): auth tables as expected",
    );
    const secret = randomToken();
    await addProfile(t, "anthropic:setup", secret);
    const shared = readStateCells(t).store?.profiles as Record<string, unknown>;
    assert.deepEqual(shared["anthropic:setup"], token(secret), "a new profile goes to the shared store");
    const view = await sqliteAdapter(t.stateDir, t.env).read(t.agentDir("work"));
    assert.deepEqual(Object.keys(view!.profiles).sort(), ["anthropic:manual", "anthropic:setup", "anthropic:work"]);
    // What was restamped stays so: we never change a version, a row or a table that is not ours.
    assert.deepEqual(reading(stateDbPath(t), "state"), state);
    assert.equal(reading(agentDbPath(t, "work"), "agent").userVersion, 24);
  }),
);

test(
  "schema: the state version is the larger of user_version and contentVersion, either way round",
  withDatabases((t) => {
    const cases: Array<[Restamp, Record<string, number>]> = [
      [
        { userVersion: 17, contentVersion: 18 },
        { userVersion: 17, contentVersion: 18, version: 18 },
      ],
      [
        { userVersion: 20, contentVersion: 18 },
        { userVersion: 20, contentVersion: 18, version: 20 },
      ],
      [
        { userVersion: 19, contentVersion: null },
        { userVersion: 19, version: 19 },
      ],
    ];
    for (const [stamp, expected] of cases) {
      restamp(stateDbPath(t), stamp);
      assert.deepEqual(reading(stateDbPath(t), "state"), { ...expected, differences: [] }, JSON.stringify(stamp));
    }
  }),
);

test(
  "schema: older than tested (2026.9.5: agent 21, state 17) is served by its shape too, and said so",
  withDatabases(async (t) => {
    restamp(agentDbPath(t, "work"), { userVersion: 21 });
    restamp(stateDbPath(t), { userVersion: 17 });
    const text = findingsText(await inspectDatabases(t.stateDir, agents(t), t.env));
    assert.match(text, /^state: state schema 17 \(older than the 18 tested, OpenClaw 2026\.9\.6\): auth tables as/);
    assert.match(text, /work: agent schema 21 \(older than the 23 tested, OpenClaw 2026\.9\.6\): auth tables as/);
    const secret = randomToken();
    await addProfile(t, "anthropic:setup", secret);
    assert.deepEqual((readStateCells(t).store?.profiles as Record<string, unknown>)["anthropic:setup"], token(secret));
  }),
);

test(
  "schema: a renamed column is refused in one line naming the file and what differs; the file is left as it was",
  withDatabases(async (t) => {
    const work = agentDbPath(t, "work");
    restamp(work, { userVersion: 24, renameColumn: { table: "auth_profile_state", from: "state_json", to: "body" } });
    const before = snapshotTree(t.stateDir);
    const expected =
      `${work} (agent schema 24): auth_profile_state has no column state_json ` +
      "(it has state_key TEXT, body TEXT, updated_at INTEGER); refused, nothing written";
    assert.equal(refusal(work, "agent"), expected);
    await assert.rejects(addProfile(t, "anthropic:setup", randomToken()), (err: Error) => err.message === expected);
    await assert.rejects(sqliteAdapter(t.stateDir, t.env).read(t.agentDir("work")), { message: expected });
    const findings = await inspectDatabases(t.stateDir, agents(t), t.env);
    assert.equal(findings.find((f) => f.name === "work")?.refusal, expected);
    assert.match(findingsText(findings), /^state: state schema 18 .*; work: \/.*openclaw-agent\.sqlite/);
    assert.deepEqual(snapshotTree(t.stateDir), before, "byte for byte, and no -wal or -shm left behind");
    assert.equal(existsSync(`${work}-wal`), false);
    // main reads only the shared store, which is still served.
    const main = await sqliteAdapter(t.stateDir, t.env).read(t.agentDir("main"));
    assert.deepEqual(Object.keys(main!.profiles), ["anthropic:manual"]);
  }),
);

test(
  "schema: each other change to what we read or write is refused with what differs",
  withDatabases((t) => {
    const work = agentDbPath(t, "work");
    const cases: Array<[string, RegExp]> = [
      ["ALTER TABLE auth_profile_store RENAME TO auth_profile_store_v2", /: no table auth_profile_store; refused/],
      [
        "DROP TABLE auth_profile_state; CREATE TABLE auth_profile_state " +
          "(state_key TEXT NOT NULL PRIMARY KEY, state_json TEXT NOT NULL, updated_at TEXT NOT NULL) STRICT",
        /: auth_profile_state\.updated_at is TEXT, not INTEGER; refused/,
      ],
      [
        "DROP TABLE auth_profile_state; CREATE TABLE auth_profile_state (state_key TEXT NOT NULL, " +
          "owner TEXT NOT NULL, state_json TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (state_key, owner))",
        /: auth_profile_state\.state_key is not the table's only primary key; refused/,
      ],
      [
        "DROP TABLE auth_profile_state; CREATE TABLE auth_profile_state (state_key TEXT NOT NULL PRIMARY KEY, " +
          "state_json TEXT NOT NULL, updated_at INTEGER NOT NULL, owner TEXT NOT NULL) STRICT",
        /: auth_profile_state\.owner is a new NOT NULL column without a default; refused/,
      ],
      [
        "ALTER TABLE auth_profile_state ADD COLUMN owner TEXT NOT NULL DEFAULT 'main'; " +
          "DROP TABLE auth_profile_store; CREATE VIEW auth_profile_store AS SELECT * FROM auth_profile_state",
        /: auth_profile_store is a view, not a table; refused/,
      ],
      [
        "UPDATE auth_profile_store SET store_json = '{\"version\":1,'",
        /auth_profile_store\[primary\] is not valid JSON/,
      ],
      [
        `UPDATE auth_profile_store SET store_json = '{"version":2,"profiles":[]}'`,
        /auth_profile_store\[primary\] profiles: expected record, received array; refused/,
      ],
      [
        `UPDATE auth_profile_store SET store_json = '{"profiles":{"a:b":{"type":"token","provider":"x","expires":"soon"}}}'`,
        /auth_profile_store\[primary\] profiles\.a:b\.expires: expected number, received string/,
      ],
      [
        `INSERT INTO auth_profile_state VALUES ('primary', '{"usageStats":{"a:b":{"cooldownUntil":null}}}', 1)`,
        /auth_profile_state\[primary\] usageStats\.a:b\.cooldownUntil: expected number, received null/,
      ],
    ];
    const pristine = snapshotTree(t.stateDir);
    for (const [sql, expected] of cases) {
      twoDatabases(t);
      const db = new Database(work);
      db.exec(sql);
      db.close();
      const line = refusal(work, "agent");
      assert.match(line ?? "", expected, sql);
      assert.ok(line!.startsWith(`${work} (agent schema 23): `), line);
      assert.doesNotMatch(line!, /\n/);
      // Back to the gateway's shape for the next case.
      for (const file of [work, `${work}-wal`, `${work}-shm`]) rmSync(file, { force: true });
    }
    twoDatabases(t);
    assert.deepEqual(Object.keys(snapshotTree(t.stateDir)), Object.keys(pristine));
    // A new column of our table that a row we add can leave empty is no difference.
    const db = new Database(work);
    db.exec(
      "ALTER TABLE auth_profile_state ADD COLUMN owner TEXT; ALTER TABLE auth_profile_store ADD COLUMN n INTEGER",
    );
    db.close();
    assert.equal(refusal(work, "agent"), undefined);
  }),
);

test(
  "schema: the state database's own refusals: a contentVersion that is no version, an unknown marker, our table",
  withDatabases(async (t) => {
    const state = stateDbPath(t);
    restamp(state, { contentVersion: '"20"' });
    assert.equal(
      refusal(state, "state"),
      `${state} (state schema 18): state.schema.contentVersion holds "\\"20\\"", not a schema version; ` +
        "refused, nothing written",
    );
    restamp(state, { contentVersion: null });
    const db = new Database(state);
    db.prepare("UPDATE config_machine_state SET value_json = ? WHERE state_key = 'auth.sharedStore'").run(
      JSON.stringify({ location: "elsewhere" }),
    );
    db.close();
    assert.match(refusal(state, "state")!, /: auth\.sharedStore holds a location we do not know; refused/);
    // Rows that are not ours are never read: another key's JSON does not matter.
    const other = new Database(state);
    other
      .prepare('UPDATE config_machine_state SET value_json = \'{"location":"state-db"}\' WHERE state_key = ?')
      .run("auth.sharedStore");
    other.prepare("INSERT INTO config_machine_state VALUES ('plugins.installedIndex', '{not json', 1)").run();
    other.close();
    assert.equal(refusal(state, "state"), undefined);
    restamp(state, { renameColumn: { table: "migration_sources", from: "removed_source", to: "removed" } });
    assert.match(refusal(state, "state")!, /: migration_sources has no column removed_source \(it has /);
    // The refused shared store refuses every agent that reads it, each in the same line; nothing is written.
    const before = snapshotTree(t.stateDir);
    await assert.rejects(addProfile(t, "anthropic:setup", randomToken()), /migration_sources has no column/);
    assert.deepEqual(snapshotTree(t.stateDir), before);
    assert.deepEqual(Object.keys(readAgentCells(t, "work").store!.profiles as object), ["anthropic:work"]);
  }),
);
