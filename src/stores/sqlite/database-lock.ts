/**
 * The lock of one gateway database, as the gateway writes it: (for the state database) its lifecycle lock,
 * then `BEGIN IMMEDIATE` with at least its busy timeout, the database's shape checked again inside (schema.ts).
 * The write (cells, then `COMMIT`) runs on the held connection; release rolls back whatever was not committed, so
 * nothing is left half-written. A busy database is waited for up to the lock timeout (at least the gateway's busy
 * timeout), never reported as a failure before that. A crash needs no journal: SQLite's locks die with us.
 */
import type { BackoffPolicy } from "../../core/backoff.js";
import { StoreError, messageOf } from "../../core/errors.js";
import type { HeldLock, StoreLock } from "../locks/lock.js";
import { type Database, BUSY_TIMEOUT_MS, isBusy, openDatabase } from "./driver.js";
import { tryStateLifecycleLock } from "./lifecycle-lock.js";
import { assertServable, type DatabaseKind } from "./schema.js";

export interface TransactionTarget {
  file: string;
  kind: DatabaseKind;
}

export interface HeldDatabase extends HeldLock {
  /** The connection, inside `BEGIN IMMEDIATE`. */
  db: Database;
}

/** The gateway retries its own exclusive begin every 25 ms; so do we, after each busy try. */
const RETRY: BackoffPolicy = { baseMs: 25, capMs: 25 };

const busyError = (file: string, err: unknown) =>
  new StoreError(`${file} stayed busy past the lock timeout; nothing written: ${messageOf(err)}`, "busy");

export function databaseLock(target: TransactionTarget, lockTimeoutMs: number): StoreLock<HeldDatabase> {
  const timeoutMs = Math.max(lockTimeoutMs, BUSY_TIMEOUT_MS);
  return {
    retry: RETRY,
    timeoutMs,
    retryable: (err) => (isBusy(err) ? busyError(target.file, err) : undefined),
    // eslint-disable-next-line @typescript-eslint/require-await -- the lock interface is async; SQLite is not
    async tryLock() {
      const lifecycle = target.kind === "state" ? tryStateLifecycleLock(target.file, timeoutMs) : undefined;
      if (lifecycle && "busy" in lifecycle) return lifecycle;
      let db: Database | undefined;
      const release = () => {
        try {
          if (db?.inTransaction) db.exec("ROLLBACK");
        } finally {
          db?.close();
          lifecycle?.release();
        }
      };
      try {
        db = openDatabase(target.file);
        db.exec("BEGIN IMMEDIATE");
        // The gateway may have migrated it since we looked; the rows are checked as the transaction reads them.
        assertServable(db, target.kind, { rows: false });
      } catch (err) {
        release();
        if (isBusy(err)) return { busy: busyError(target.file, err) };
        throw err;
      }
      return {
        db,
        lost: () => Promise.resolve(lifecycle?.lost()),
        release: () => Promise.resolve(release()),
      };
    },
  };
}
