/**
 * The floor beside which `npm run bench` measures the SQLite generation (bench/sqlite.ts): the same driver the
 * daemon uses (better-sqlite3), and per database only what a writer that merges into the gateway's JSON cell
 * must do: open it (an existing file, the gateway's 5 s busy timeout), `BEGIN IMMEDIATE`, one `UPDATE` of the
 * auth row that changes one profile or one usage entry inside the JSON (`json_set` / `json_remove`, so every
 * other field stays), `COMMIT`, close. One database after another. No lifecycle lock, no schema or shape check,
 * no read outside the transaction, no worker process, no gateway notice.
 *   node sqlite-floor.js update <job file>                       one pass over the job's databases, then exit
 *   node sqlite-floor.js watch <job file> <credentials file>     on each change of the login's access token, a
 *       pass writing it as a token profile; logs `sync.written` lines of the daemon's shape
 */
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { fingerprint } from "../src/core/fingerprint.js";
import { emit, watchLogin } from "./floor-watch.js";

/** One auth row: which database, table and row, and the columns of its JSON and its time. */
export interface FloorTarget {
  agent: string;
  file: string;
  table: string;
  keyColumn: string;
  key: string;
  jsonColumn: string;
  timeColumn: string;
}

/** `profile`: set `profiles.<id>` to `value`; `clear`: drop `fields` of `usageStats.<id>` and zero its errorCount. */
export type FloorChange =
  { kind: "profile"; id: string; value?: Record<string, unknown> } | { kind: "clear"; id: string; fields: string[] };

export interface FloorJob {
  targets: FloorTarget[];
  change: FloorChange;
}

/** A JSON path label, quoted as SQLite's JSON functions take it (ids hold `:`). */
const label = (key: string) => `"${key.replace(/"/g, '\\"')}"`;

function expression(column: string, change: FloorChange): string {
  if (change.kind === "profile") return `json_set(${column}, '$.profiles.${label(change.id)}', json(?))`;
  const entry = `$.usageStats.${label(change.id)}`;
  const removed = `json_remove(${column}, ${change.fields.map((f) => `'${entry}.${label(f)}'`).join(", ")})`;
  return `json_set(${removed}, '${entry}.errorCount', 0)`;
}

function update(target: FloorTarget, change: FloorChange, value: string | undefined): void {
  const db = new Database(target.file, { fileMustExist: true, timeout: 5_000 });
  try {
    db.exec("BEGIN IMMEDIATE");
    const { table, jsonColumn, timeColumn, keyColumn } = target;
    const sql = `UPDATE ${table} SET ${jsonColumn} = ${expression(jsonColumn, change)}, ${timeColumn} = ? WHERE ${keyColumn} = ?`;
    const params = value === undefined ? [Date.now(), target.key] : [value, Date.now(), target.key];
    if (db.prepare(sql).run(...params).changes !== 1) throw new Error(`${target.file}: no ${target.key} row`);
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const [mode, jobFile, credentials] = process.argv.slice(2);
  if (!jobFile || (mode !== "update" && mode !== "watch") || (mode === "watch" && !credentials)) {
    throw new Error("usage: sqlite-floor.js update <job file> | watch <job file> <credentials file>");
  }
  const job = JSON.parse(readFileSync(jobFile, "utf8")) as FloorJob;
  if (mode === "update") {
    const value = job.change.kind === "profile" ? JSON.stringify(job.change.value) : undefined;
    for (const target of job.targets) update(target, job.change, value);
    return;
  }
  watchLogin(credentials!, ({ token, expires }) => {
    const value = JSON.stringify({ type: "token", provider: "anthropic", token, expires });
    for (const target of job.targets) {
      update(target, job.change, value);
      emit({ event: "sync.written", agent: target.agent, fingerprint: fingerprint(token) });
    }
  });
}

await main();
