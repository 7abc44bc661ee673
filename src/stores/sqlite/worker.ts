/**
 * The SQLite child (worker-client.ts): the only process that opens a gateway database. It holds the connections
 * and runs small named operations on them; the parent keeps the locks' retries, reconcile and planning. Each
 * connection is first checked to be the file the parent checked (database-file.ts), and SQLite's own memory is
 * capped, so a hostile database costs at most this child, which the parent kills at the deadline.
 */
import { StoreError } from "../../core/errors.js";
import {
  CELLS,
  type CellHome,
  type CellRole,
  forgetCells,
  type JsonObject,
  MARKER_CELL,
  readCell,
  writeCell,
} from "./cells.js";
import { closeIdle, type Connection, connect, done, withConnection } from "./connections.js";
import { type Database, isBusy, limitSqliteHeap, loadDriver, type NoEngine } from "./driver.js";
import { databaseFile, type DatabaseIdentity } from "./database-file.js";
import { sharedLocation } from "./layout.js";
import { type LifecycleTry, tryStateLifecycleLock } from "./lifecycle-lock.js";
import { relocationInProgress } from "./relocation.js";
import { assertServable, type DatabaseKind, readSchema } from "./schema.js";
import type { Placement } from "./adapter.js";
import type { StoreCells } from "./view.js";
import { serve } from "./worker-serve.js";

const readCells = (db: Database, home: CellHome): StoreCells => {
  const store = readCell(db, CELLS[home].store);
  const state = readCell(db, CELLS[home].state);
  return { ...(store ? { store } : {}), ...(state ? { state } : {}) };
};

interface Held {
  connection: Connection;
  lifecycle: Exclude<LifecycleTry, { busy: unknown }> | undefined;
}
const held = new Map<number, Held>();
let nextHandle = 1;

function heldOf(handle: number): Held {
  const found = held.get(handle);
  if (!found) throw new StoreError("the SQLite transaction is gone", "locked");
  return found;
}

interface FileArgs {
  file: string;
  expect: DatabaseIdentity;
}

/**
 * `read` of `file` when we serve it, in one read transaction; undefined when there is no file. A database we may
 * not serve is refused (schema.ts).
 */
function servedRead<T>(file: string, kind: DatabaseKind, read: (db: Database) => T): { value: T } | undefined {
  const expect = databaseFile(file);
  if (!expect) return undefined;
  return withConnection(file, expect, (connection) => {
    assertServable(connection.db, kind);
    return { value: read(connection.db) };
  });
}

/**
 * One agent's placement and cells in one request, each database read once (adapter.ts calls it for every read
 * outside a transaction), and whether `openclaw doctor --fix` is relocating the shared store (nothing may be
 * written then).
 */
function readAgent({ stateDb, mainDb, own }: { stateDb: string; mainDb: string; own: string }) {
  const state = servedRead(stateDb, "state", (db) => {
    const inState = sharedLocation(readCell(db, MARKER_CELL), stateDb) === "state-db";
    return { cells: inState ? readCells(db, "state-db") : undefined, relocating: relocationInProgress(db, stateDb) };
  })?.value;
  let shared: Placement["shared"];
  let sharedCells: StoreCells = {};
  if (state?.cells) {
    shared = { file: stateDb, home: "state-db", kind: "state" };
    sharedCells = state.cells;
  } else {
    const main = servedRead(mainDb, "agent", (db) => readCells(db, "agent-db"));
    if (main) [shared, sharedCells] = [{ file: mainDb, home: "agent-db", kind: "agent" }, main.value];
  }
  const mayBeLocal = own !== shared?.file && own !== mainDb;
  const localCells = mayBeLocal ? servedRead(own, "agent", (db) => readCells(db, "agent-db")) : undefined;
  const local = localCells ? own : undefined;
  const cells = localCells ? { shared: sharedCells, local: localCells.value } : { shared: sharedCells };
  const relocating = shared ? state?.relocating : undefined;
  return { placement: { shared, local }, cells, ...(relocating ? { relocating } : {}) };
}

/** A database's cells, read outside any transaction of ours; the file must still be there. */
function cellsOf({ file, home }: { file: string; home: CellHome }): StoreCells {
  const expect = databaseFile(file);
  if (!expect) throw new StoreError(`${file} cannot be opened: it is gone`, "invalid");
  return withConnection(file, expect, ({ db }) => readCells(db, home));
}

interface BeginArgs extends FileArgs {
  kind: DatabaseKind;
  timeoutMs: number;
  /** Where our cells are in it. */
  home: CellHome;
  /** The agent's other database, read in the same request (outside this transaction, as the gateway reads it). */
  other?: { file: string; home: CellHome };
}

const operations = {
  inspect: ({ file, expect, kind }: FileArgs & { kind: DatabaseKind }) =>
    withConnection(file, expect, (connection) => readSchema(connection.db, kind)),
  /**
   * The gateway's write lock: its lifecycle lock (state database), then BEGIN IMMEDIATE; busy is an answer. Held,
   * it reads our cells inside it (unless a relocation began meanwhile) and the agent's other database's.
   */
  begin: ({ file, expect, kind, timeoutMs, home, other }: BeginArgs) => {
    const lifecycle = kind === "state" ? tryStateLifecycleLock(file, timeoutMs) : undefined;
    if (lifecycle && "busy" in lifecycle) return { lifecycleBusy: lifecycle.busy.message };
    let connection: Connection | undefined;
    try {
      connection = connect(file, expect, true);
      connection.held = true;
      connection.db.exec("BEGIN IMMEDIATE");
      // The gateway may have migrated it since we looked; the rows are checked as the transaction reads them.
      assertServable(connection.db, kind, { rows: false });
    } catch (err) {
      release({ connection, lifecycle }, !isBusy(err));
      if (isBusy(err)) return { busy: (err as Error).message };
      throw err;
    }
    const handle = nextHandle++;
    held.set(handle, { connection, lifecycle });
    try {
      const { db } = connection;
      const relocating = home === "state-db" ? relocationInProgress(db, file) : undefined;
      if (relocating) return { handle, relocating };
      return { handle, cells: readCells(db, home), ...(other ? { other: cellsOf(other) } : {}) };
    } catch (err) {
      operations.release({ handle });
      throw err;
    }
  },
  /**
   * Writes our cells and commits, then lets the locks go at once (the gateway waits on them). Unless the state
   * lock was taken over meanwhile: then nothing is written (transaction.ts words it, with `lost`).
   */
  commit: ({ handle, home, writes, now }: { handle: number; home: CellHome; writes: Write[]; now: number }) => {
    const found = heldOf(handle);
    const lost = found.lifecycle?.lost();
    if (lost) return { lost };
    const { db } = found.connection;
    for (const { role, value } of writes) writeCell(db, CELLS[home][role], value, now);
    db.exec("COMMIT");
    operations.release({ handle });
    return {};
  },
  agent: (args: { stateDb: string; mainDb: string; own: string }) => readAgent(args),
  lost: ({ handle }: { handle: number }) => heldOf(handle).lifecycle?.lost() ?? null,
  release: ({ handle }: { handle: number }) => {
    const found = held.get(handle);
    held.delete(handle);
    if (found) release(found);
    return null;
  },
  /** Which engine this child runs, or why none (`doctor`). */
  engine: (): { detail: string } | NoEngine => {
    const driver = loadDriver();
    return "open" in driver ? { detail: driver.detail } : driver;
  },
  /** The parent's calls are over (worker-client.ts `session`): no connection is kept past them. */
  rest: () => closeIdle(),
};

interface Write {
  role: CellRole;
  value: JsonObject;
}

/**
 * Rolls back whatever was not committed, so nothing is left half-written, and gives the connection back (closed
 * when `failed`: a connection whose transaction went wrong is not lent again).
 */
function release({ connection, lifecycle }: Partial<Held>, failed = false): void {
  try {
    if (connection?.db.inTransaction) {
      forgetCells(connection.db);
      connection.db.exec("ROLLBACK");
    }
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    if (connection) done(connection, failed);
    lifecycle?.release();
  }
}

export type SqliteOperations = typeof operations;

// SQLite's own memory: a generated column or a huge row fails with "out of memory" instead of growing us. An
// engine that cannot load fails each request instead, in the one line that says what to run (driver.ts).
if ("open" in loadDriver()) limitSqliteHeap();
serve(operations, closeIdle);
