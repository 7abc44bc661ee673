/**
 * The JSON cells the gateway keeps auth in (`writeAuthProfileJsonCell` in openclaw@2026.9.6):
 *   shared store in the state database: `config_machine_state(state_key, value_json, updated_at_ms)`, rows
 *     `authProfiles.store` and `authProfiles.state`;
 *   an agent database (and the shared store before `doctor --fix` moved it): `auth_profile_store(store_key,
 *     store_json, updated_at)` and `auth_profile_state(state_key, state_json, updated_at)`, row `primary`.
 * A cell is read and written whole, as the gateway does; we parse it, check its shape (cell-shape.ts), change our
 * part, and write back every other field as it was.
 */
import { StoreError } from "../../core/errors.js";
import { MAX_SMALL_FILE_BYTES } from "../../fs/read-file.js";
import { cellShapeProblem } from "./cell-shape.js";
import { type Database, pragmaValue, statement } from "./driver.js";

export type CellRole = "store" | "state";

export interface Cell {
  table: string;
  keyColumn: string;
  key: string;
  jsonColumn: string;
  timeColumn: string;
  /** Whose shape the JSON must have; none for cells we only read (the marker). */
  role?: CellRole;
}
export type CellHome = "state-db" | "agent-db";

export const SHARED_STORE_MARKER_KEY = "auth.sharedStore";

const sharedCell = (key: string, role?: CellRole): Cell => ({
  table: "config_machine_state",
  keyColumn: "state_key",
  key,
  jsonColumn: "value_json",
  timeColumn: "updated_at_ms",
  ...(role ? { role } : {}),
});
const agentCell = (table: string, keyColumn: string, jsonColumn: string, role: CellRole): Cell => ({
  table,
  keyColumn,
  key: "primary",
  jsonColumn,
  timeColumn: "updated_at",
  role,
});

export const CELLS: Readonly<Record<CellHome, Readonly<Record<CellRole, Cell>>>> = {
  "state-db": { store: sharedCell("authProfiles.store", "store"), state: sharedCell("authProfiles.state", "state") },
  "agent-db": {
    store: agentCell("auth_profile_store", "store_key", "store_json", "store"),
    state: agentCell("auth_profile_state", "state_key", "state_json", "state"),
  },
};

export const MARKER_CELL: Cell = sharedCell(SHARED_STORE_MARKER_KEY);

/** The state database's content version, which may run ahead of its `user_version` (schema.ts). */
export const CONTENT_VERSION_CELL: Cell = sharedCell("state.schema.contentVersion");

/** The cap of a credential file, for a cell that holds the same JSON. */
export const MAX_CELL_BYTES = MAX_SMALL_FILE_BYTES;

export type JsonObject = Record<string, unknown>;

export function tableExists(db: Database, table: string): boolean {
  return statement(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
}

/** The raw value of a cell, or undefined when its row (or table) does not exist. */
export function readCellValue(db: Database, cell: Cell): unknown {
  if (!tableExists(db, cell.table)) return undefined;
  // Its size first, read without loading the value (SQLite's octet_length of a stored column): a huge one is
  // refused as a huge file is, never read.
  const size = `SELECT octet_length("${cell.jsonColumn}") AS size FROM "${cell.table}" WHERE "${cell.keyColumn}" = ?`;
  const found = statement(db, size).get(cell.key) as { size: unknown } | undefined;
  if (found === undefined) return undefined;
  if (typeof found.size === "number" && found.size > MAX_CELL_BYTES) {
    throw new StoreError(
      `${db.name}: ${cell.table}[${cell.key}] is ${found.size} bytes, more than ${MAX_CELL_BYTES}; ` +
        "refused, nothing written",
      "invalid",
    );
  }
  const sql = `SELECT "${cell.jsonColumn}" AS json FROM "${cell.table}" WHERE "${cell.keyColumn}" = ?`;
  const row = statement(db, sql).get(cell.key) as { json: unknown } | undefined;
  return row?.json;
}

export type CellRead = { value: JsonObject | undefined } | { problem: string };

/**
 * What each connection read of its cells, valid while `PRAGMA data_version` stays the same (no other connection
 * committed) and this connection wrote nothing since: a pass reads the shared store's cells for every agent.
 */
interface CellMemo {
  version: unknown;
  reads: Map<Cell, CellRead>;
}
const seen = new WeakMap<Database, CellMemo>();

/** Forgets what `db` read: it wrote (or rolled back) its own cells, which its `data_version` does not count. */
export function forgetCells(db: Database): void {
  seen.delete(db);
}

/** A cell's JSON object in the shape of its role (undefined when the row is missing), or what is wrong with it. */
export function checkCell(db: Database, cell: Cell): CellRead {
  const version = pragmaValue(db, "data_version");
  const found = seen.get(db);
  const memo: CellMemo = found && found.version === version ? found : { version, reads: new Map() };
  seen.set(db, memo);
  let read = memo.reads.get(cell);
  if (!read) memo.reads.set(cell, (read = parseCell(db, cell)));
  return read;
}

function parseCell(db: Database, cell: Cell): CellRead {
  const text = readCellValue(db, cell);
  if (text === undefined) return { value: undefined };
  const at = `${cell.table}[${cell.key}]`;
  if (typeof text !== "string") return { problem: `${at} does not hold JSON text` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: `${at} is not valid JSON` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { problem: `${at} is not a JSON object` };
  }
  const shape = cell.role ? cellShapeProblem(cell.role, value) : undefined;
  if (shape) return { problem: `${at} ${shape}` };
  return { value: value as JsonObject };
}

/** A cell's JSON object; a cell that is not one, in its role's shape, is refused and never overwritten. */
export function readCell(db: Database, cell: Cell): JsonObject | undefined {
  const read = checkCell(db, cell);
  if ("problem" in read) throw new StoreError(`${db.name}: ${read.problem}; nothing written`, "invalid");
  return read.value;
}

/** Upserts one cell as the gateway does (compact JSON, the time in ms); the table must already exist. */
export function writeCell(db: Database, cell: Cell, value: JsonObject, now: number): string {
  if (!tableExists(db, cell.table)) {
    throw new StoreError(`${cell.table} is missing; nothing written (run openclaw doctor --fix)`, "invalid");
  }
  const json = JSON.stringify(value);
  forgetCells(db);
  statement(
    db,
    `INSERT INTO "${cell.table}" ("${cell.keyColumn}", "${cell.jsonColumn}", "${cell.timeColumn}") VALUES (?, ?, ?) ` +
      `ON CONFLICT("${cell.keyColumn}") DO UPDATE SET "${cell.jsonColumn}" = excluded."${cell.jsonColumn}", ` +
      `"${cell.timeColumn}" = excluded."${cell.timeColumn}"`,
  ).run(cell.key, json, now);
  return json;
}
