/**
 * The SQLite library, loaded only when a SQLite-era store is present (it is a native module: loading it
 * costs memory an idle daemon on a JSON-era gateway should not pay), and the one way we open a gateway
 * database: an existing regular file, never created, with the gateway's busy timeout. Only the SQLite child
 * (worker.ts) calls it: this library never runs on the daemon's thread.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";

export type Database = BetterSqlite3.Database;

/** The gateway's own `OPENCLAW_SQLITE_BUSY_TIMEOUT_MS`; we never wait less than it does. */
export const BUSY_TIMEOUT_MS = 5_000;

let library: typeof BetterSqlite3 | undefined;

export function sqliteLibrary(): typeof BetterSqlite3 {
  try {
    library ??= createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
  } catch (err) {
    // A native module that did not build (no compiler at install time) must say so in one line, not crash.
    const why = messageOf(err).split("\n")[0];
    const fix = "reinstall moltbot-auth-sync where a C++ compiler is available";
    throw new StoreError(`the SQLite library (better-sqlite3) cannot be loaded: ${why}; ${fix}`, "unsupported");
  }
  return library;
}

/** SQLite's own memory in its process (worker.ts): a 500 MB generated value fails as "out of memory". */
export const SQLITE_HEAP_LIMIT_BYTES = 256 * 1024 * 1024;

/** Caps SQLite's heap for the whole process (the pragma is process-wide); called once by the SQLite child. */
export function limitSqliteHeap(): void {
  const db = new (sqliteLibrary())(":memory:");
  try {
    db.pragma(`hard_heap_limit = ${SQLITE_HEAP_LIMIT_BYTES}`);
  } finally {
    db.close();
  }
}

/**
 * Opens an existing database. `journal_mode` and the schema are left as the gateway set them; the only
 * setting made is this connection's busy timeout (the driver's `timeout`, SQLite's `busy_timeout`).
 */
export function openDatabase(file: string, options: { readonly?: boolean } = {}): Database {
  const Sqlite = sqliteLibrary();
  let db: Database;
  try {
    db = new Sqlite(file, { fileMustExist: true, readonly: options.readonly ?? false, timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw new StoreError(`${file} cannot be opened: ${messageOf(err)}`, "invalid");
  }
  return db;
}

/**
 * Whether a connection that only reads opens `file` read-only, so as to leave nothing behind: read-only when the
 * gateway's WAL files exist; else read-write, because a read-only connection to a WAL database would leave the
 * `-wal` and `-shm` files it makes. Nothing is written either way: on close, SQLite removes the (empty) files it
 * made.
 */
export function readsReadOnly(file: string): boolean {
  return existsSync(`${file}-wal`) || existsSync(`${file}-shm`);
}

const statements = new WeakMap<Database, Map<string, BetterSqlite3.Statement>>();

/**
 * `db.prepare(sql)`, prepared once per connection: the SQLite child keeps connections for a pass
 * (connections.ts) and runs the same few statements on each, once per agent.
 */
export function statement(db: Database, sql: string): BetterSqlite3.Statement {
  let prepared = statements.get(db);
  if (!prepared) statements.set(db, (prepared = new Map<string, BetterSqlite3.Statement>()));
  let found = prepared.get(sql);
  if (!found) prepared.set(sql, (found = db.prepare(sql)));
  return found;
}

/** A pragma's value (`user_version`, `data_version`), through the statement kept for it. */
export function pragmaValue(db: Database, name: string): unknown {
  const row = statement(db, `PRAGMA ${name}`).get() as Record<string, unknown> | undefined;
  return row === undefined ? undefined : Object.values(row)[0];
}

/** SQLITE_BUSY / SQLITE_LOCKED: another writer kept the database past our timeout. */
export function isBusy(err: unknown): boolean {
  const code = errnoCode(err);
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || code?.startsWith("SQLITE_BUSY_") === true;
}
