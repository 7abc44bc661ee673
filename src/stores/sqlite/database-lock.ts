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
import { databaseFile } from "./database-file.js";
import { BUSY_TIMEOUT_MS, isBusy } from "./driver.js";
import type { DatabaseKind } from "./schema.js";
import { SqliteRequestError, type SqliteWorker } from "./worker-client.js";

export interface TransactionTarget {
  file: string;
  kind: DatabaseKind;
}

export interface HeldDatabase extends HeldLock {
  /** The connection, inside `BEGIN IMMEDIATE`, in the SQLite child. */
  handle: number;
}

/** The gateway retries its own exclusive begin every 25 ms; so do we, after each busy try. */
const RETRY: BackoffPolicy = { baseMs: 25, capMs: 25 };

const busyError = (file: string, err: unknown) =>
  new StoreError(`${file} stayed busy past the lock timeout; nothing written: ${messageOf(err)}`, "busy");

/** A busy answer from the child (a COMMIT that met a reader): the whole step is tried again. */
const busyInChild = (err: unknown) => err instanceof SqliteRequestError && isBusy({ code: err.sqliteCode });

export function databaseLock(
  target: TransactionTarget,
  lockTimeoutMs: number,
  worker: SqliteWorker,
): StoreLock<HeldDatabase> {
  const timeoutMs = Math.max(lockTimeoutMs, BUSY_TIMEOUT_MS);
  const { file, kind } = target;
  return {
    retry: RETRY,
    timeoutMs,
    retryable: (err) => (busyInChild(err) ? busyError(file, err) : undefined),
    async tryLock() {
      const expect = databaseFile(file);
      if (!expect) throw new StoreError(`${file} is gone; nothing written`, "invalid");
      const began = await worker.call<{ handle: number } | { busy: string } | { lifecycleBusy: string }>(
        "begin",
        { file, expect, kind, timeoutMs },
        file,
        "BEGIN IMMEDIATE",
      );
      if ("lifecycleBusy" in began) return { busy: new StoreError(began.lifecycleBusy, "locked") };
      if ("busy" in began) return { busy: busyError(file, began.busy) };
      const { handle } = began;
      return {
        handle,
        lost: async () =>
          (await worker.call<string | null>("lost", { handle }, file, "checking its lock")) ?? undefined,
        // A child killed at its deadline took the connection and its transaction with it: nothing to roll back.
        release: () =>
          worker.call("release", { handle }, file, "ROLLBACK").then(
            () => undefined,
            () => undefined,
          ),
      };
    },
  };
}
