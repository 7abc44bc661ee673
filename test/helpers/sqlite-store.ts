/**
 * SQLite-era databases in the gateway's shape (openclaw@2026.9.6): the tables auth lives in, STRICT as the
 * gateway makes them, WAL, and its user_version. Only for unit tests; interop tests let the real gateway make
 * its own databases.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { type Database as OurDatabase, openDatabase, readsReadOnly } from "../../src/stores/sqlite/driver.js";
import type { TestHome } from "./env.js";

type Json = Record<string, unknown>;

export interface Cells {
  store?: Json;
  state?: Json;
}

export const stateDbPath = (t: TestHome) => path.join(t.stateDir, "state", "openclaw.sqlite");
export const agentDbPath = (t: TestHome, id: string) => path.join(t.agentDir(id), "openclaw-agent.sqlite");

function create(file: string, userVersion: number, schema: string): Database.Database {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec(schema);
  db.pragma(`user_version = ${userVersion}`);
  return db;
}

/** `state/openclaw.sqlite`; the marker is written unless `marker: null` (an install before doctor --fix). */
const STATE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS config_machine_state (
    state_key TEXT NOT NULL PRIMARY KEY, value_json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS migration_sources (
    source_key TEXT NOT NULL PRIMARY KEY, migration_kind TEXT NOT NULL, source_path TEXT NOT NULL,
    status TEXT NOT NULL, removed_source INTEGER NOT NULL DEFAULT 0) STRICT;`;

const AGENT_SCHEMA = `
  CREATE TABLE IF NOT EXISTS auth_profile_store (
    store_key TEXT NOT NULL PRIMARY KEY, store_json TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS auth_profile_state (
    state_key TEXT NOT NULL PRIMARY KEY, state_json TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT;`;

type StateDbCells = Cells & { marker?: Json | null; userVersion?: number };

export function writeStateDb(t: TestHome, cells: StateDbCells = {}): string {
  const file = stateDbPath(t);
  const db = create(file, cells.userVersion ?? 18, STATE_SCHEMA);
  const put = db.prepare("INSERT OR REPLACE INTO config_machine_state VALUES (?, ?, ?)");
  const marker = cells.marker ?? { location: "state-db" };
  if (cells.marker !== null) put.run("auth.sharedStore", JSON.stringify(marker), Date.now());
  if (cells.store) put.run("authProfiles.store", JSON.stringify(cells.store), Date.now());
  if (cells.state) put.run("authProfiles.state", JSON.stringify(cells.state), Date.now());
  db.close();
  return file;
}

export function writeAgentDb(t: TestHome, id: string, cells: Cells & { userVersion?: number } = {}): string {
  const file = agentDbPath(t, id);
  const db = create(file, cells.userVersion ?? 23, AGENT_SCHEMA);
  const put = (table: string, value: Json) =>
    db.prepare(`INSERT OR REPLACE INTO ${table} VALUES ('primary', ?, ?)`).run(JSON.stringify(value), Date.now());
  if (cells.store) put("auth_profile_store", cells.store);
  if (cells.state) put("auth_profile_state", cells.state);
  db.close();
  return file;
}

/**
 * What a later gateway may have done to a database, done to one: another `user_version`, the state database's
 * `state.schema.contentVersion` row (null removes it), a table of its own, a column of ours renamed.
 */
export interface Restamp {
  userVersion?: number;
  contentVersion?: number | string | null;
  newTable?: string;
  renameColumn?: { table: string; from: string; to: string };
}

export function restamp(file: string, changes: Restamp): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    if (changes.userVersion !== undefined) db.pragma(`user_version = ${changes.userVersion}`);
    const key = "state.schema.contentVersion";
    if (changes.contentVersion === null) db.prepare("DELETE FROM config_machine_state WHERE state_key = ?").run(key);
    else if (changes.contentVersion !== undefined) {
      const value =
        typeof changes.contentVersion === "number" ? String(changes.contentVersion) : changes.contentVersion;
      db.prepare("INSERT OR REPLACE INTO config_machine_state VALUES (?, ?, ?)").run(key, value, Date.now());
    }
    if (changes.newTable) {
      db.exec(`CREATE TABLE ${changes.newTable} (id TEXT NOT NULL PRIMARY KEY, payload_json TEXT NOT NULL) STRICT`);
    }
    const rename = changes.renameColumn;
    if (rename) db.exec(`ALTER TABLE ${rename.table} RENAME COLUMN ${rename.from} TO ${rename.to}`);
  } finally {
    db.close();
  }
}

function readJson(file: string, sql: string, key: string): Json | undefined {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare(sql).get(key) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as Json) : undefined;
  } finally {
    db.close();
  }
}

export function readStateCells(t: TestHome): Cells & { marker?: Json } {
  const sql = "SELECT value_json AS json FROM config_machine_state WHERE state_key = ?";
  const file = stateDbPath(t);
  const keys = ["authProfiles.store", "authProfiles.state", "auth.sharedStore"];
  const [store, state, marker] = keys.map((k) => readJson(file, sql, k));
  return { ...(store ? { store } : {}), ...(state ? { state } : {}), ...(marker ? { marker } : {}) };
}

export function readAgentCells(t: TestHome, id: string): Cells {
  const file = agentDbPath(t, id);
  const store = readJson(file, "SELECT store_json AS json FROM auth_profile_store WHERE store_key = ?", "primary");
  const state = readJson(file, "SELECT state_json AS json FROM auth_profile_state WHERE state_key = ?", "primary");
  return { ...(store ? { store } : {}), ...(state ? { state } : {}) };
}

/** The gateway config of this generation: agents under `agents.entries.<id>`. */
export function entriesConfig(t: TestHome, ids: readonly string[]): Json {
  return {
    agents: {
      entries: Object.fromEntries(ids.map((id) => [id, id === "main" ? {} : { name: id, agentDir: t.agentDir(id) }])),
    },
    meta: { lastTouchedVersion: "2026.9.6" },
  };
}

/** Every JSON cell of both kinds of database as one string, for refresh-token and retired-id checks. */
export function allCellText(files: readonly string[]): string {
  const parts: string[] = [];
  for (const file of files) {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      for (const table of ["config_machine_state", "auth_profile_store", "auth_profile_state"]) {
        const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
        if (exists) parts.push(JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all()));
      }
    } finally {
      db.close();
    }
  }
  return parts.join("\n");
}

/** Runs `read` on `file` opened as the SQLite child opens it to read (driver.ts), then closes it. */
export function readDatabase<T>(file: string, read: (db: OurDatabase) => T): T {
  const db = openDatabase(file, { readonly: readsReadOnly(file) });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The auth cells of one database exactly as stored (the JSON text, byte for byte), by key; timestamps left out. */
export function cellTexts(file: string): Record<string, string> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const tables = [
    ["config_machine_state", "state_key", "value_json"],
    ["auth_profile_store", "store_key", "store_json"],
    ["auth_profile_state", "state_key", "state_json"],
  ];
  try {
    const texts: Record<string, string> = {};
    for (const [table, key, json] of tables) {
      if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)) continue;
      const auth = table === "config_machine_state" ? ` WHERE ${key} LIKE 'authProfiles.%'` : "";
      const rows = db.prepare(`SELECT ${key} AS key, ${json} AS json FROM ${table}${auth} ORDER BY 1`).all();
      for (const row of rows as Array<{ key: string; json: string }>) texts[`${table}/${row.key}`] = row.json;
    }
    return texts;
  } finally {
    db.close();
  }
}
