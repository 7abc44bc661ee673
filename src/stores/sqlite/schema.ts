/**
 * Whether a gateway database is one we may serve: by its shape, not by a list of versions. The gateway kept
 * shipping schema versions (agent 24, state 19 and 20 since October 2026) that leave its auth tables alone, so a
 * database is served when every table and column we read or write is there with the declared type
 * openclaw@2026.9.6 gives it (`PRAGMA table_info`), and the JSON in our rows has the shape we know
 * (cell-shape.ts). Tables we never touch do not matter. Its version is only reported, against the newest we were
 * tested with; the same rule holds below it (2026.9.5, agent 21 / state 17, has the same auth tables), because
 * what makes our write safe is the table we write, not the number beside it. Nothing here writes.
 */
import { StoreError } from "../../core/errors.js";
import { type Cell, CELLS, CONTENT_VERSION_CELL, checkCell, MARKER_CELL, readCellValue } from "./cells.js";
import { type Database, pragmaValue, statement } from "./driver.js";
import { sharedLocation } from "./layout.js";
import { RELOCATION_TABLE } from "./relocation.js";

export type DatabaseKind = "state" | "agent";

/** The newest schema versions we were tested with (openclaw@2026.9.6 `package.json` → `openclaw.schemaVersions`). */
export const TESTED_SCHEMA: Readonly<Record<DatabaseKind, number>> = { state: 18, agent: 23 };

/** The release those versions come from, for messages. */
export const TESTED_GATEWAY = "2026.9.6";

export interface ColumnShape {
  name: string;
  /** The declared type, as the gateway's DDL writes it. */
  type: "TEXT" | "INTEGER";
  /** Our upsert's `ON CONFLICT` needs it to be the table's primary key. */
  primaryKey?: boolean;
}

export interface TableShape {
  table: string;
  columns: readonly ColumnShape[];
  /** A table we read only when it is there. */
  optional?: boolean;
  /** We may add a row to it, so no column of its own may need a value we do not give. */
  rowsAdded?: boolean;
}

/** A cell's table: `<key> TEXT NOT NULL PRIMARY KEY, <json> TEXT NOT NULL, <time> INTEGER NOT NULL`, STRICT. */
const cellTable = (cell: Cell): TableShape => ({
  table: cell.table,
  columns: [
    { name: cell.keyColumn, type: "TEXT", primaryKey: true },
    { name: cell.jsonColumn, type: "TEXT" },
    { name: cell.timeColumn, type: "INTEGER" },
  ],
  rowsAdded: true,
});

/** The tables we read or write, per kind of database, and the cells of ours in it. */
const SHAPES: Readonly<Record<DatabaseKind, { tables: readonly TableShape[]; cells: readonly Cell[] }>> = {
  state: {
    tables: [cellTable(CELLS["state-db"].store), RELOCATION_TABLE],
    cells: [CELLS["state-db"].store, CELLS["state-db"].state, MARKER_CELL],
  },
  agent: {
    tables: [cellTable(CELLS["agent-db"].store), cellTable(CELLS["agent-db"].state)],
    cells: [CELLS["agent-db"].store, CELLS["agent-db"].state],
  },
};

export interface SchemaReading {
  userVersion: number;
  /** State databases: the `state.schema.contentVersion` row, when there is one. */
  contentVersion?: number;
  /** The larger of the two, as the gateway reads it. */
  version: number;
  /** What differs from the shape we know, one phrase each; empty when the database is served. */
  differences: string[];
}

/** A few of a table's columns as they are, to show what stands where ours should. */
const columnList = (columns: ReadonlyArray<{ name: string; type: string }>) =>
  columns
    .slice(0, 8)
    .map((c) => `${c.name.slice(0, 40)} ${c.type.slice(0, 20) || "(no type)"}`)
    .join(", ") + (columns.length > 8 ? ", …" : "");

interface ColumnInfo {
  name: string;
  type: string;
  notnull: number;
  dflt_value: unknown;
  pk: number;
  /** table_xinfo: 0 a column, 1 hidden (virtual tables), 2 and 3 generated (VIRTUAL, STORED). */
  hidden: number;
}

/** How one table departs from its shape: missing, a view, a column gone, retyped, or one our insert cannot fill. */
export function tableDifferences(db: Database, shape: TableShape): string[] {
  const { table } = shape;
  const object = statement(db, "SELECT type FROM sqlite_master WHERE name = ?").get(table) as
    { type: string } | undefined;
  if (!object) return shape.optional ? [] : [`no table ${table}`];
  if (object.type !== "table") return [`${table} is a ${object.type}, not a table`];
  const all = statement(db, `PRAGMA table_xinfo("${table}")`).all() as ColumnInfo[];
  const columns = all.filter((c) => c.hidden === 0);
  const byName = new Map(columns.map((c) => [c.name, c]));
  const differences: string[] = [];
  // openclaw@2026.9.6 puts no trigger and no generated column on the tables we read or write: one would run
  // (or be computed) on our read or write, at whatever cost its author chose.
  const generated = all.filter((c) => c.hidden === 2 || c.hidden === 3);
  if (generated.length > 0) differences.push(`${table} has a generated column ${generated[0]!.name.slice(0, 40)}`);
  const triggers = statement(db, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?").all(table);
  if (triggers.length > 0)
    differences.push(`${table} has a trigger ${String((triggers[0] as { name: unknown }).name).slice(0, 40)}`);
  for (const expected of shape.columns) {
    const found = byName.get(expected.name);
    if (!found && generated.some((c) => c.name === expected.name)) continue; // said above
    if (!found) {
      differences.push(`${table} has no column ${expected.name} (it has ${columnList(columns)})`);
      continue;
    }
    if (found.type.toUpperCase() !== expected.type) {
      differences.push(`${table}.${expected.name} is ${found.type || "untyped"}, not ${expected.type}`);
    }
    const keys = columns.filter((c) => c.pk > 0);
    if (expected.primaryKey && (found.pk !== 1 || keys.length !== 1)) {
      differences.push(`${table}.${expected.name} is not the table's only primary key`);
    }
  }
  const ours = new Set(shape.columns.map((c) => c.name));
  // A column of ours gone is the difference already; the one in its place is among those listed with it.
  const extras = shape.rowsAdded && differences.length === 0 ? columns.filter((c) => !ours.has(c.name)) : [];
  for (const extra of extras) {
    // A row we add (a first marking's state row) could not fill it, so the gateway's rows mean more than ours.
    if (extra.notnull && extra.dflt_value === null && extra.pk === 0) {
      differences.push(`${table}.${extra.name.slice(0, 40)} is a new NOT NULL column without a default`);
    }
  }
  return differences;
}

/** `state.schema.contentVersion` as the gateway reads it (`readStateSchemaContentVersion`); a bad one is refused. */
function contentVersion(db: Database): { version?: number; difference?: string } {
  const text = readCellValue(db, CONTENT_VERSION_CELL);
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = typeof text === "string" ? JSON.parse(text) : undefined;
  } catch {
    value = undefined;
  }
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return { version: value };
  const shown = typeof text === "string" ? JSON.stringify(text.slice(0, 40)) : "no JSON text";
  return { difference: `${CONTENT_VERSION_CELL.key} holds ${shown}, not a schema version` };
}

/**
 * The schema text the shape checks depend on: the `sqlite_master` rows of our tables and of every trigger on
 * them. `PRAGMA table_xinfo` derives from a table's DDL, so two databases with the same text differ alike.
 */
function shapeText(db: Database, kind: DatabaseKind): string {
  const names = SHAPES[kind].tables.map((shape) => shape.table);
  const marks = names.map(() => "?").join(", ");
  const sql = `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name IN (${marks}) OR tbl_name IN (${marks})`;
  const rows = statement(db, `${sql} ORDER BY type, name`).all(...names, ...names);
  return `${kind}\0${JSON.stringify(rows)}`;
}

/** Shapes already checked, by their schema text: a pass opens a thousand agent databases with one schema. */
const checkedShapes = new Map<string, readonly string[]>();
const MAX_CHECKED_SHAPES = 64;

/** How the tables of a `kind` database depart from their shapes, checked once per distinct schema text. */
function tablesDifferences(db: Database, kind: DatabaseKind): readonly string[] {
  const text = shapeText(db, kind);
  let found = checkedShapes.get(text);
  if (!found) {
    found = SHAPES[kind].tables.flatMap((table) => tableDifferences(db, table));
    if (checkedShapes.size >= MAX_CHECKED_SHAPES) checkedShapes.clear();
    checkedShapes.set(text, found);
  }
  return found;
}

export interface SchemaOptions {
  /** false inside a transaction, whose reader checks the rows it reads itself. */
  rows?: boolean;
}

/**
 * Reads a database's versions and checks its shape: the tables and columns, then (only when those fit) the JSON
 * in our rows.
 */
export function readSchema(db: Database, kind: DatabaseKind, options: SchemaOptions = {}): SchemaReading {
  const userVersion = pragmaValue(db, "user_version") as number;
  const shape = SHAPES[kind];
  const differences = [...tablesDifferences(db, kind)];
  const content = kind === "state" && differences.length === 0 ? contentVersion(db) : {};
  if (content.difference) differences.push(content.difference);
  if (differences.length === 0 && options.rows !== false) {
    for (const cell of shape.cells) {
      const read = checkCell(db, cell);
      if ("problem" in read) differences.push(read.problem);
      else if (cell === MARKER_CELL) {
        try {
          sharedLocation(read.value, db.name);
        } catch {
          differences.push(`${cell.key} holds a location we do not know`);
        }
      }
    }
  }
  const version = Math.max(userVersion, content.version ?? 0);
  return {
    userVersion,
    ...(content.version !== undefined ? { contentVersion: content.version } : {}),
    version,
    differences,
  };
}

/** How the version compares with the newest we were tested with. */
function testedText(kind: DatabaseKind, version: number): string {
  const tested = TESTED_SCHEMA[kind];
  if (version > tested) return `tested up to ${tested}, OpenClaw ${TESTED_GATEWAY}`;
  if (version < tested) return `older than the ${tested} tested, OpenClaw ${TESTED_GATEWAY}`;
  return `as tested, OpenClaw ${TESTED_GATEWAY}`;
}

/** "agent schema 24 (tested up to 23, …)"; a state database whose two numbers differ gives both. */
function versionText(kind: DatabaseKind, reading: SchemaReading, tested: boolean): string {
  const { userVersion, contentVersion, version } = reading;
  const notes: string[] = [];
  if (contentVersion !== undefined && contentVersion !== userVersion) {
    notes.push(`user_version ${userVersion}, contentVersion ${contentVersion}`);
  }
  if (tested) notes.push(testedText(kind, version));
  return `${kind} schema ${version}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`;
}

/**
 * What `status` and `doctor` say of a served database: "agent schema 24 (tested up to 23, …): auth tables as
 * expected".
 */
export function schemaNote(kind: DatabaseKind, reading: SchemaReading): string {
  return `${versionText(kind, reading, true)}: auth tables as expected`;
}

/** The one-line refusal of a database whose shape differs; undefined when it is served. */
export function schemaRefusal(kind: DatabaseKind, file: string, reading: SchemaReading): string | undefined {
  if (reading.differences.length === 0) return undefined;
  return `${file} (${versionText(kind, reading, false)}): ${reading.differences.join("; ")}; refused, nothing written`;
}

/** Throws the refusal of a database we may not serve. */
export function assertServable(db: Database, kind: DatabaseKind, options: SchemaOptions = {}): SchemaReading {
  const reading = readSchema(db, kind, options);
  const refusal = schemaRefusal(kind, db.name, reading);
  if (refusal) throw new StoreError(refusal, "unsupported");
  return reading;
}
