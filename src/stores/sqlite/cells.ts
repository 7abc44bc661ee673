/**
 * The JSON cells the gateway keeps auth in (`writeAuthProfileJsonCell` in openclaw@2026.9.6):
 *   shared store in the state database: `config_machine_state(state_key, value_json, updated_at_ms)`, rows
 *     `authProfiles.store` and `authProfiles.state`;
 *   an agent database (and the shared store before `doctor --fix` moved it): `auth_profile_store(store_key,
 *     store_json, updated_at)` and `auth_profile_state(state_key, state_json, updated_at)`, row `primary`.
 * A cell is read and written whole, as the gateway does; we parse it, change our part, and write back every
 * other field as it was.
 */
import { StoreError } from "../../core/errors.js";
import type { Database } from "./driver.js";

export interface Cell {
  table: string;
  keyColumn: string;
  key: string;
  jsonColumn: string;
  timeColumn: string;
}

export type CellRole = "store" | "state";
export type CellHome = "state-db" | "agent-db";

export const SHARED_STORE_MARKER_KEY = "auth.sharedStore";

const sharedCell = (key: string): Cell => ({
  table: "config_machine_state",
  keyColumn: "state_key",
  key,
  jsonColumn: "value_json",
  timeColumn: "updated_at_ms",
});
const agentCell = (table: string, keyColumn: string, jsonColumn: string): Cell => ({
  table,
  keyColumn,
  key: "primary",
  jsonColumn,
  timeColumn: "updated_at",
});

export const CELLS: Readonly<Record<CellHome, Readonly<Record<CellRole, Cell>>>> = {
  "state-db": { store: sharedCell("authProfiles.store"), state: sharedCell("authProfiles.state") },
  "agent-db": {
    store: agentCell("auth_profile_store", "store_key", "store_json"),
    state: agentCell("auth_profile_state", "state_key", "state_json"),
  },
};

export const MARKER_CELL: Cell = sharedCell(SHARED_STORE_MARKER_KEY);

export type JsonObject = Record<string, unknown>;

export function tableExists(db: Database, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
}

/** The raw JSON of a cell, or undefined when its row (or table) does not exist. */
export function readCellText(db: Database, cell: Cell): string | undefined {
  if (!tableExists(db, cell.table)) return undefined;
  const sql = `SELECT "${cell.jsonColumn}" AS json FROM "${cell.table}" WHERE "${cell.keyColumn}" = ?`;
  const row = db.prepare(sql).get(cell.key) as { json: unknown } | undefined;
  if (row === undefined) return undefined;
  if (typeof row.json !== "string") {
    throw new StoreError(`${cell.table}[${cell.key}] does not hold JSON text; nothing written`, "invalid");
  }
  return row.json;
}

/** A cell's JSON object; a cell that is not a JSON object is refused, never overwritten. */
export function parseCell(text: string | undefined, cell: Cell): JsonObject | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const where = `${cell.table}[${cell.key}]`;
    throw new StoreError(`${where} is not valid JSON; nothing written (run openclaw doctor --fix)`, "invalid");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StoreError(`${cell.table}[${cell.key}] is not a JSON object; nothing written`, "invalid");
  }
  return value as JsonObject;
}

export function readCell(db: Database, cell: Cell): JsonObject | undefined {
  return parseCell(readCellText(db, cell), cell);
}

/** Upserts one cell as the gateway does (compact JSON, the time in ms); the table must already exist. */
export function writeCell(db: Database, cell: Cell, value: JsonObject, now: number): string {
  if (!tableExists(db, cell.table)) {
    throw new StoreError(`${cell.table} is missing; nothing written (run openclaw doctor --fix)`, "invalid");
  }
  const json = JSON.stringify(value);
  db.prepare(
    `INSERT INTO "${cell.table}" ("${cell.keyColumn}", "${cell.jsonColumn}", "${cell.timeColumn}") VALUES (?, ?, ?) ` +
      `ON CONFLICT("${cell.keyColumn}") DO UPDATE SET "${cell.jsonColumn}" = excluded."${cell.jsonColumn}", ` +
      `"${cell.timeColumn}" = excluded."${cell.timeColumn}"`,
  ).run(cell.key, json, now);
  return json;
}
