/**
 * The SQLite child's connections (worker.ts), kept open while the parent's calls overlap (a pass) and closed
 * when the last one ends (worker-client.ts `session`). A pass reads the shared state database once or more per
 * agent; opening it each time (the schema parsed again, an empty -wal made and removed when nobody holds it)
 * was most of the cost of a change reaching many agents. Every use checks that the path is still the file the
 * parent checked (database-file.ts) and that the connection is to that file; a swapped file gets a new one.
 * A connection inside a transaction is never shared: another request meanwhile gets a connection of its own,
 * closed after it, so reads never see a transaction's work and a second writer meets SQLite's busy lock as
 * the gateway would. At most MAX_KEPT are kept, the least recently used closed first.
 */
import { statSync } from "node:fs";
import { StoreError } from "../../core/errors.js";
import type { DatabaseIdentity } from "./database-file.js";
import { type Database, inReadTransaction, openDatabase, readsReadOnly } from "./driver.js";

/**
 * Enough for a pass's later steps (recovery, sync's check of unusable agents) to find the connections of its
 * writes still open, at up to this many agent databases; each holds three descriptors (the database, its -wal
 * and -shm) and a few pages. Past it, the least recently used are closed; a failed open closes the idle ones.
 */
const MAX_KEPT = 1024;

export interface Connection {
  file: string;
  db: Database;
  identity: DatabaseIdentity;
  readonly: boolean;
  /** Inside a transaction (worker.ts `begin`): not lent to anyone else until released. */
  held: boolean;
  /** Kept for later requests; false for one made only for a request while the kept one was held. */
  kept: boolean;
}

const kept = new Map<string, Connection>();

/** The file SQLite opened must be the one checked: a swap between the check and the open is refused. */
export function assertSame(file: string, expect: DatabaseIdentity): void {
  const now = statSync(file, { throwIfNoEntry: false });
  if (!now || !now.isFile() || now.dev !== expect.dev || now.ino !== expect.ino) {
    throw new StoreError(`${file} was replaced while it was opened; refused, nothing written`, "invalid");
  }
}

const sameFile = (a: DatabaseIdentity, b: DatabaseIdentity) => a.dev === b.dev && a.ino === b.ino;

function open(file: string, expect: DatabaseIdentity, write: boolean, keep: boolean): Connection {
  const readonly = !write && readsReadOnly(file);
  let db: Database;
  try {
    db = openDatabase(file, { readonly });
  } catch (err) {
    // Out of descriptors (or memory) with many kept: the idle ones give way, and the open is tried once more.
    if (closeIdle() === 0) throw err;
    db = openDatabase(file, { readonly });
  }
  try {
    assertSame(file, expect);
  } catch (err) {
    db.close();
    throw err;
  }
  return { file, db, identity: expect, readonly, held: false, kept: keep };
}

function close(connection: Connection): void {
  if (kept.get(connection.file) === connection) kept.delete(connection.file);
  try {
    if (connection.db.inTransaction) connection.db.exec("ROLLBACK");
  } finally {
    connection.db.close();
  }
}

/** Closes the least recently used connections past MAX_KEPT; a held one waits for its release. */
function trim(): void {
  for (const connection of kept.values()) {
    if (kept.size <= MAX_KEPT) return;
    if (!connection.held) close(connection);
  }
}

/**
 * A connection to `file`, which must still be `expect`: the kept one when it is free (and writable when `write`),
 * else a new one, kept unless the kept one is held. Give it back with `done`.
 */
export function connect(file: string, expect: DatabaseIdentity, write = false): Connection {
  const found = kept.get(file);
  if (found && !found.held && sameFile(found.identity, expect) && !(write && found.readonly)) {
    assertSame(file, expect);
    kept.delete(file);
    kept.set(file, found); // most recently used last
    return found;
  }
  if (found?.held) return open(file, expect, write, false);
  if (found) close(found);
  const connection = open(file, expect, write, true);
  kept.set(file, connection);
  trim();
  return connection;
}

/** Gives a connection back: one made for a single request is closed; a kept one that failed is closed too. */
export function done(connection: Connection, failed = false): void {
  connection.held = false;
  if (!connection.kept || failed) close(connection);
  else trim();
}

/**
 * Runs `read` on a connection to `file`, in one read transaction: one snapshot, and one lock taken instead of
 * one per statement. A database refused or failing is not kept.
 */
export function withConnection<T>(file: string, expect: DatabaseIdentity, read: (connection: Connection) => T): T {
  const connection = connect(file, expect);
  try {
    const value = inReadTransaction(connection.db, () => read(connection));
    done(connection);
    return value;
  } catch (err) {
    done(connection, true);
    throw err;
  }
}

/** Closes every connection not in a transaction: the parent's calls are over. */
export function closeIdle(): number {
  let closed = 0;
  for (const connection of [...kept.values()]) {
    if (connection.held) continue;
    close(connection);
    closed++;
  }
  return closed;
}
