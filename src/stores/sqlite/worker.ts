/**
 * The SQLite child (worker-client.ts): the only process that opens a gateway database. It holds the connections
 * and runs small named operations on them; the parent keeps the locks' retries, reconcile and planning. Each
 * connection is first checked to be the file the parent checked (database-file.ts), and SQLite's own memory is
 * capped, so a hostile database costs at most this child, which the parent kills at the deadline.
 */
import { statSync } from "node:fs";
import { StoreError } from "../../core/errors.js";
import { CELLS, type CellHome, type CellRole, type JsonObject, MARKER_CELL, readCell, writeCell } from "./cells.js";
import { type Database, isBusy, limitSqliteHeap, openDatabase, readDatabase } from "./driver.js";
import { databaseFile, type DatabaseIdentity } from "./database-file.js";
import { sharedLocation } from "./layout.js";
import { type LifecycleTry, tryStateLifecycleLock } from "./lifecycle-lock.js";
import { relocationInProgress } from "./relocation.js";
import { assertServable, type DatabaseKind, readSchema } from "./schema.js";
import type { Placement } from "./adapter.js";
import type { StoreCells } from "./view.js";
import { serve } from "./worker-serve.js";

/** The file SQLite opened must be the one checked: a swap between the check and the open is refused. */
function assertSame(file: string, expect: DatabaseIdentity): void {
  const now = statSync(file, { throwIfNoEntry: false });
  if (!now || !now.isFile() || now.dev !== expect.dev || now.ino !== expect.ino) {
    throw new StoreError(`${file} was replaced while it was opened; refused, nothing written`, "invalid");
  }
}

function checkedRead<T>(file: string, expect: DatabaseIdentity, read: (db: Database) => T): T {
  return readDatabase(file, (db) => {
    assertSame(file, expect);
    return read(db);
  });
}

const readCells = (db: Database, home: CellHome): StoreCells => {
  const store = readCell(db, CELLS[home].store);
  const state = readCell(db, CELLS[home].state);
  return { ...(store ? { store } : {}), ...(state ? { state } : {}) };
};

interface Held {
  db: Database;
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

/** One agent's placement and cells in one request (adapter.ts calls it for every read outside a transaction). */
function readAgent({ stateDb, mainDb, own }: { stateDb: string; mainDb: string; own: string }) {
  const checked = (file: string, kind: DatabaseKind, marker: boolean) => {
    const expect = databaseFile(file);
    return expect ? { location: operations.check({ file, expect, kind, marker }) } : undefined;
  };
  let shared: Placement["shared"];
  if (checked(stateDb, "state", true)?.location === "state-db")
    shared = { file: stateDb, home: "state-db", kind: "state" };
  if (!shared && checked(mainDb, "agent", false)) shared = { file: mainDb, home: "agent-db", kind: "agent" };
  const mayBeLocal = own !== shared?.file && own !== mainDb;
  const local = mayBeLocal && checked(own, "agent", false) ? own : undefined;
  const cellsOf = (file: string, home: CellHome) => {
    const expect = databaseFile(file);
    if (!expect) throw new StoreError(`${file} cannot be opened: it is gone`, "invalid");
    return operations.cells({ file, expect, home });
  };
  const sharedCells = shared ? cellsOf(shared.file, shared.home) : {};
  const cells = local ? { shared: sharedCells, local: cellsOf(local, "agent-db") } : { shared: sharedCells };
  return { placement: { shared, local }, cells };
}

const operations = {
  inspect: ({ file, expect, kind }: FileArgs & { kind: DatabaseKind }) =>
    checkedRead(file, expect, (db) => readSchema(db, kind)),
  /** Refuses a database we may not serve; for the state database, also where its marker puts the shared store. */
  check: ({ file, expect, kind, marker }: FileArgs & { kind: DatabaseKind; marker: boolean }) =>
    checkedRead(file, expect, (db) => {
      assertServable(db, kind);
      return marker ? sharedLocation(readCell(db, MARKER_CELL), file) : null;
    }),
  cells: ({ file, expect, home }: FileArgs & { home: CellHome }) =>
    checkedRead(file, expect, (db) => readCells(db, home)),
  relocation: ({ file, expect }: FileArgs) => checkedRead(file, expect, (db) => relocationInProgress(db, file) ?? null),
  /** The gateway's write lock: its lifecycle lock (state database), then BEGIN IMMEDIATE; busy is an answer. */
  begin: ({ file, expect, kind, timeoutMs }: FileArgs & { kind: DatabaseKind; timeoutMs: number }) => {
    const lifecycle = kind === "state" ? tryStateLifecycleLock(file, timeoutMs) : undefined;
    if (lifecycle && "busy" in lifecycle) return { lifecycleBusy: lifecycle.busy.message };
    let db: Database | undefined;
    try {
      db = openDatabase(file);
      assertSame(file, expect);
      db.exec("BEGIN IMMEDIATE");
      // The gateway may have migrated it since we looked; the rows are checked as the transaction reads them.
      assertServable(db, kind, { rows: false });
    } catch (err) {
      release({ db, lifecycle });
      if (isBusy(err)) return { busy: (err as Error).message };
      throw err;
    }
    const handle = nextHandle++;
    held.set(handle, { db, lifecycle });
    return { handle };
  },
  txCells: ({ handle, home, file }: { handle: number; home: CellHome; file: string }) => {
    const { db } = heldOf(handle);
    const relocating = home === "state-db" ? relocationInProgress(db, file) : undefined;
    return relocating ? { relocating } : { cells: readCells(db, home) };
  },
  commit: ({ handle, home, writes, now }: { handle: number; home: CellHome; writes: Write[]; now: number }) => {
    const { db } = heldOf(handle);
    for (const { role, value } of writes) writeCell(db, CELLS[home][role], value, now);
    db.exec("COMMIT");
    return null;
  },
  agent: (args: { stateDb: string; mainDb: string; own: string }) => readAgent(args),
  lost: ({ handle }: { handle: number }) => heldOf(handle).lifecycle?.lost() ?? null,
  release: ({ handle }: { handle: number }) => {
    const found = held.get(handle);
    held.delete(handle);
    if (found) release(found);
    return null;
  },
};

interface Write {
  role: CellRole;
  value: JsonObject;
}

/** Rolls back whatever was not committed, so nothing is left half-written. */
function release({ db, lifecycle }: { db: Database | undefined; lifecycle: Held["lifecycle"] }): void {
  try {
    if (db?.inTransaction) db.exec("ROLLBACK");
  } finally {
    db?.close();
    lifecycle?.release();
  }
}

export type SqliteOperations = typeof operations;

// SQLite's own memory: a generated column or a huge row fails with "out of memory" instead of growing us.
limitSqliteHeap();
serve(operations);
