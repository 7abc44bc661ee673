/**
 * The SQLite engine, and the one way we open a gateway database: an existing regular file, never created, with
 * the gateway's busy timeout. Only the SQLite child (worker.ts) calls it: no engine runs on the daemon's thread.
 *
 * Two engines behind one small interface. Node's own `node:sqlite` where it has what we need (the busy timeout
 * and `isTransaction`, from Node 22.16): the engine the SQLite-era gateway itself reads with, and nothing to
 * compile, so an install survives a Node upgrade and npm's refusal of unreviewed install scripts. Else (Node 20)
 * better-sqlite3, an optional dependency: a native module built for one Node, loaded only here.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type BetterSqlite3 from "better-sqlite3";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { PACKAGE_ROOT } from "../../core/install.js";
import { shellQuote } from "../../core/terminal-text.js";

export type SqlValue = string | number | bigint | Buffer | null;

export interface Statement {
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
  run(...params: SqlValue[]): unknown;
}

/** What both engines' connections share, and all we use of them. */
export interface Database {
  /** The file it opened, for messages. */
  readonly name: string;
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
  readonly inTransaction: boolean;
}

export type DriverName = "node:sqlite" | "better-sqlite3";

export interface OpenOptions {
  readonly?: boolean;
  /** Only for the gateway's lock files, which whoever locks first creates; a database is never created. */
  create?: boolean;
  timeoutMs?: number;
}

export interface Driver {
  name: DriverName;
  /** For `doctor`: the engine and why it was chosen. */
  detail: string;
  open(file: string, options: OpenOptions): Database;
}

/** The gateway's own `OPENCLAW_SQLITE_BUSY_TIMEOUT_MS`; we never wait less than it does. */
export const BUSY_TIMEOUT_MS = 5_000;

/** The part of `node:sqlite` we use; Node 20's type definitions have none of it. */
interface NodeSqlite {
  DatabaseSync: new (
    path: string | URL,
    options?: { readOnly?: boolean; timeout?: number },
  ) => Omit<Database, "name" | "inTransaction"> & { readonly isTransaction: boolean };
}

/** `node:sqlite` when this Node's has the busy timeout and `isTransaction`; else why not. */
function nodeSqlite(): Driver | string {
  const found = process.getBuiltinModule?.("node:sqlite") as NodeSqlite | undefined;
  if (!found) return `Node ${process.versions.node} has no node:sqlite`;
  const probe = new found.DatabaseSync(":memory:", { timeout: 1 });
  try {
    const timeout = probe.prepare("PRAGMA busy_timeout").get() as { timeout?: unknown } | undefined;
    if (typeof probe.isTransaction !== "boolean" || timeout?.timeout !== 1) {
      return `Node ${process.versions.node}'s node:sqlite lacks the busy timeout (Node 22.16 or later has it)`;
    }
  } finally {
    probe.close();
  }
  const { DatabaseSync } = found;
  return {
    name: "node:sqlite",
    detail: `node:sqlite (SQLite built into Node ${process.versions.node})`,
    open: (file, { readonly = false, create = false, timeoutMs = BUSY_TIMEOUT_MS }) => {
      // A file: URI with mode=rw or ro opens an existing file only (the engine's fileMustExist).
      let where: string | URL = file;
      if (!create) (where = pathToFileURL(file)).searchParams.set("mode", readonly ? "ro" : "rw");
      const db = new DatabaseSync(where, { readOnly: readonly, timeout: timeoutMs });
      return {
        name: file,
        exec: (sql) => db.exec(sql),
        prepare: (sql) => db.prepare(sql),
        close: () => db.close(),
        get inTransaction() {
          return db.isTransaction;
        },
      };
    },
  };
}

function betterSqlite3(): Driver {
  const Sqlite = createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
  const version = (createRequire(import.meta.url)("better-sqlite3/package.json") as { version: string }).version;
  return {
    name: "better-sqlite3",
    detail: `better-sqlite3 ${version}`,
    open: (file, { readonly = false, create = false, timeoutMs = BUSY_TIMEOUT_MS }) =>
      new Sqlite(file, { fileMustExist: !create, readonly, timeout: timeoutMs }) as Database,
  };
}

let chosen: Driver | undefined;

/** Why no engine loads, and what to run. */
export interface NoEngine {
  problem: string;
  fix: string;
}

/**
 * The engine this process uses, or why none loads: better-sqlite3 built for another Node (Node was upgraded
 * since the install) or never built (npm skipped its install script) is rebuilt in place; or Node is upgraded
 * to one with SQLite built in.
 */
export function loadDriver(): Driver | NoEngine {
  if (chosen) return chosen;
  const builtIn = nodeSqlite();
  if (typeof builtIn !== "string") return (chosen = builtIn);
  try {
    chosen = betterSqlite3();
  } catch (err) {
    const why = messageOf(err).split("\n")[0];
    return {
      problem: `no SQLite engine: ${builtIn}, and better-sqlite3 cannot be loaded (${why})`,
      fix: `cd ${shellQuote(PACKAGE_ROOT)} && npm rebuild better-sqlite3   (or use Node 22.16 or later)`,
    };
  }
  chosen.detail += `, because ${builtIn}`;
  return chosen;
}

/** The engine, or the one-line error that says what to run. */
export function sqliteDriver(): Driver {
  const driver = loadDriver();
  if ("open" in driver) return driver;
  throw new StoreError(`${driver.problem}; run: ${driver.fix}`, "unsupported");
}

/** SQLite's own memory in its process (worker.ts): a 500 MB generated value fails as "out of memory". */
export const SQLITE_HEAP_LIMIT_BYTES = 256 * 1024 * 1024;

/** Caps SQLite's heap for the whole process (the pragma is process-wide); called once by the SQLite child. */
export function limitSqliteHeap(): void {
  const db = sqliteDriver().open(":memory:", { create: true });
  try {
    db.exec(`PRAGMA hard_heap_limit = ${SQLITE_HEAP_LIMIT_BYTES}`);
  } finally {
    db.close();
  }
}

/**
 * Opens an existing database. `journal_mode` and the schema are left as the gateway set them; the only
 * setting made is this connection's busy timeout.
 */
export function openDatabase(file: string, options: { readonly?: boolean } = {}): Database {
  const driver = sqliteDriver();
  try {
    return driver.open(file, { readonly: options.readonly ?? false });
  } catch (err) {
    throw new StoreError(`${file} cannot be opened: ${messageOf(err)}`, "invalid");
  }
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

const statements = new WeakMap<Database, Map<string, Statement>>();

/**
 * `db.prepare(sql)`, prepared once per connection: the SQLite child keeps connections for a pass
 * (connections.ts) and runs the same few statements on each, once per agent.
 */
export function statement(db: Database, sql: string): Statement {
  let prepared = statements.get(db);
  if (!prepared) statements.set(db, (prepared = new Map<string, Statement>()));
  let found = prepared.get(sql);
  if (!found) prepared.set(sql, (found = db.prepare(sql)));
  return found;
}

/** A pragma's value (`user_version`, `data_version`), through the statement kept for it. */
export function pragmaValue(db: Database, name: string): unknown {
  const row = statement(db, `PRAGMA ${name}`).get() as Record<string, unknown> | undefined;
  return row === undefined ? undefined : Object.values(row)[0];
}

/** `read` in one read transaction: one snapshot, and one lock taken instead of one per statement. */
export function inReadTransaction<T>(db: Database, read: () => T): T {
  db.exec("BEGIN");
  try {
    const value = read();
    db.exec("COMMIT");
    return value;
  } finally {
    if (db.inTransaction) db.exec("ROLLBACK");
  }
}

/** SQLite's primary result codes we name; node:sqlite gives the number (`errcode`), better-sqlite3 the name. */
const RESULT_CODES: Record<number, string> = {
  5: "SQLITE_BUSY",
  6: "SQLITE_LOCKED",
  7: "SQLITE_NOMEM",
  8: "SQLITE_READONLY",
  10: "SQLITE_IOERR",
  11: "SQLITE_CORRUPT",
  13: "SQLITE_FULL",
  14: "SQLITE_CANTOPEN",
  26: "SQLITE_NOTADB",
};

/** An engine error's SQLite code by name (`SQLITE_BUSY`), whichever engine raised it. */
export function sqliteCode(err: unknown): string | undefined {
  const number = (err as { errcode?: unknown } | null)?.errcode;
  if (typeof number === "number") return RESULT_CODES[number & 0xff] ?? `SQLITE_ERROR_${number}`;
  return errnoCode(err);
}

/** SQLITE_BUSY / SQLITE_LOCKED: another writer kept the database past our timeout. */
export function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || code?.startsWith("SQLITE_BUSY_") === true;
}
