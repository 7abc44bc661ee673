/**
 * Acts like the gateway on one store: `node gateway-writer.js <format> <store> <counterId> <locked|unlocked>
 * <stopFile>`, incrementing `usageStats[counterId].counter` until `stopFile` appears, then printing
 * `{"done": n}`. The store and the lock are the gateway's for that format:
 *   json-v1: `auth-profiles.json` under proper-lockfile with the gateway's options, written in place as its
 *     saveJsonFile does; "unlocked" skips the lock, as the gateway's upsert and migration paths do;
 *   split: `auth-state.json` (the store is its folder) under the sidecar lock file `auth-profiles.json.lock`
 *     (`withFileLock`: `{pid, createdAt}`, stale when the pid is dead or after 30 s), written in place;
 *   sqlite: the state database (the store), the state-lifecycle lock then `BEGIN IMMEDIATE` with the gateway's
 *     5 s busy timeout, the `authProfiles.state` cell rewritten whole, as `updateAuthProfileStoreWithLock` does.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import lockfile from "proper-lockfile";
import { isAlive } from "../../src/core/process-identity.js";
import { lockPath } from "../../src/stores/sqlite/lifecycle-lock.js";

const [format, store, counterId, mode, stopFile] = process.argv.slice(2) as [string, string, string, string, string];
type Doc = { usageStats?: Record<string, { counter?: number }> } & Record<string, unknown>;
const LOCK = {
  stale: 30_000,
  retries: { retries: 10, factor: 2, minTimeout: 100, maxTimeout: 10_000, randomize: true },
};

/** The real gateway treats an unparsable store as empty; this stand-in re-reads instead, so that what is measured is lost updates, not clobbering. */
async function readJson(file: string): Promise<Doc> {
  for (let i = 0; ; i++) {
    try {
      return JSON.parse(readFileSync(file, "utf8")) as Doc;
    } catch (err) {
      if (i > 2000) throw err;
      await sleep(1);
    }
  }
}

function increment(doc: Doc): void {
  doc.usageStats ??= {};
  const stats = (doc.usageStats[counterId] ??= {});
  stats.counter = (stats.counter ?? 0) + 1;
}

async function jsonV1(): Promise<void> {
  const release = mode === "locked" ? await lockfile.lock(store, LOCK) : undefined;
  try {
    const doc = await readJson(store);
    increment(doc);
    writeFileSync(store, `${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    await release?.();
  }
}

async function sidecarLock(file: string): Promise<void> {
  for (;;) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid, createdAt: new Date().toISOString() }));
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      try {
        const held = JSON.parse(readFileSync(file, "utf8")) as { pid: number; createdAt: string };
        if (!isAlive(held.pid) || Date.now() - Date.parse(held.createdAt) > 30_000) rmSync(file, { force: true });
      } catch {
        // Half-written by its maker: wait.
      }
      await sleep(25 + Math.random() * 25);
    }
  }
}

async function split(): Promise<void> {
  const lock = path.join(store, "auth-profiles.json.lock");
  if (mode === "locked") await sidecarLock(lock);
  try {
    const file = path.join(store, "auth-state.json");
    const doc = await readJson(file);
    increment(doc);
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    if (mode === "locked") rmSync(lock, { force: true });
  }
}

let db: Database.Database | undefined;
async function sqlite(): Promise<void> {
  db ??= new Database(store, { timeout: 5_000 });
  mkdirSync(path.dirname(lockPath("state-lifecycle", store)), { recursive: true, mode: 0o700 });
  const coordinator = new Database(lockPath("state-lifecycle", store), { timeout: 0 });
  try {
    for (;;) {
      try {
        coordinator.exec("PRAGMA busy_timeout = 0; PRAGMA journal_mode = MEMORY; BEGIN EXCLUSIVE;");
        break;
      } catch {
        await sleep(25);
      }
    }
    db.exec("BEGIN IMMEDIATE");
    try {
      const row = db.prepare("SELECT value_json AS json FROM config_machine_state WHERE state_key = ?");
      const found = row.get("authProfiles.state") as { json: string } | undefined;
      const doc = found ? (JSON.parse(found.json) as Doc) : { version: 1 };
      increment(doc);
      db.prepare("INSERT OR REPLACE INTO config_machine_state VALUES (?, ?, ?)").run(
        "authProfiles.state",
        JSON.stringify(doc),
        Date.now(),
      );
      db.exec("COMMIT");
    } finally {
      if (db.inTransaction) db.exec("ROLLBACK");
    }
  } finally {
    if (coordinator.inTransaction) coordinator.exec("ROLLBACK");
    coordinator.close();
  }
}

const once = { "json-v1": jsonV1, split, sqlite }[format];
if (!once) throw new Error(`unknown format ${format}`);
let done = 0;
while (!existsSync(stopFile)) {
  await once();
  done++;
  await sleep(Math.random() * 8);
}
process.stdout.write(JSON.stringify({ done }));
