/**
 * One write to one gateway database, as the gateway writes it: (for the state database) its lifecycle lock,
 * then `BEGIN IMMEDIATE` with at least its busy timeout, the schema version checked again inside, the
 * operation, `COMMIT`. A busy database is waited for up to the caller's lock timeout, never reported as a
 * failure before that; nothing is left half-written.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { StoreError, messageOf } from "../../core/errors.js";
import { type Database, BUSY_TIMEOUT_MS, isBusy, openDatabase, userVersion } from "./driver.js";
import { acquireStateLifecycleLock, type HeldLock } from "./lifecycle-lock.js";
import { assertSupportedSchema, type DatabaseKind } from "./schema.js";

export interface TransactionTarget {
  file: string;
  kind: DatabaseKind;
}

const RETRY_MS = 50;

/** Runs `operation` inside `BEGIN IMMEDIATE` on `target`; it must be synchronous, so the lock is held briefly. */
export async function writeTransaction<T>(
  target: TransactionTarget,
  timeoutMs: number,
  operation: (db: Database) => T,
): Promise<T> {
  const deadline = Date.now() + Math.max(timeoutMs, BUSY_TIMEOUT_MS);
  for (;;) {
    let lock: HeldLock | undefined;
    let db: Database | undefined;
    try {
      const left = Math.max(0, deadline - Date.now());
      if (target.kind === "state") lock = await acquireStateLifecycleLock(target.file, left);
      db = openDatabase(target.file);
      db.exec("BEGIN IMMEDIATE");
      try {
        assertSupportedSchema(target.kind, target.file, userVersion(db));
        const result = operation(db);
        db.exec("COMMIT");
        return result;
      } finally {
        if (db.inTransaction) db.exec("ROLLBACK");
      }
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (Date.now() >= deadline) {
        const why = `${target.file} stayed busy past the lock timeout; nothing written: ${messageOf(err)}`;
        throw new StoreError(why, "busy");
      }
    } finally {
      db?.close();
      lock?.release();
    }
    await sleep(RETRY_MS);
  }
}
