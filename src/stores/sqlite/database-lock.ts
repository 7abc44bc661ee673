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
import type { CellHome, CellRole, JsonObject } from "./cells.js";
import type { DatabaseKind } from "./schema.js";
import type { StoreCells } from "./view.js";
import { SqliteRequestError, type SqliteWorker } from "./worker-client.js";

export interface TransactionTarget {
  file: string;
  kind: DatabaseKind;
  /** Where our cells are in it. */
  home: CellHome;
}

/** What the lock's request read once held: our cells in the database, and the agent's other database's. */
export type HeldRead = { relocating: string } | { cells: StoreCells; other?: StoreCells };

export interface HeldDatabase extends HeldLock {
  read: HeldRead;
  /**
   * Writes the cells and commits, releasing the locks in the same request; undefined, or why the state lock is
   * no longer ours (then nothing was written): the SQLite child checks it again as it commits, with nothing
   * between the check and the write.
   */
  commit(writes: ReadonlyArray<{ role: CellRole; value: JsonObject }>): Promise<string | undefined>;
}

/** The gateway retries its own exclusive begin every 25 ms; so do we, after each busy try. */
const RETRY: BackoffPolicy = { baseMs: 25, capMs: 25 };

const busyError = (file: string, err: unknown) =>
  new StoreError(`${file} stayed busy past the lock timeout; nothing written: ${messageOf(err)}`, "busy");

/** A busy answer from the child (a COMMIT that met a reader): the whole step is tried again. */
const busyInChild = (err: unknown) => err instanceof SqliteRequestError && isBusy({ code: err.sqliteCode });

/**
 * The lock of `target`; once held it has read our cells there and, when `other` is given, the agent's other
 * database's cells (the two stores an agent reads), in the same request.
 */
export function databaseLock(
  target: TransactionTarget,
  lockTimeoutMs: number,
  worker: SqliteWorker,
  other?: { file: string; home: CellHome },
): StoreLock<HeldDatabase> {
  const timeoutMs = Math.max(lockTimeoutMs, BUSY_TIMEOUT_MS);
  const { file, kind, home } = target;
  return {
    retry: RETRY,
    timeoutMs,
    retryable: (err) => (busyInChild(err) ? busyError(file, err) : undefined),
    async tryLock() {
      const expect = databaseFile(file);
      if (!expect) throw new StoreError(`${file} is gone; nothing written`, "invalid");
      const began = await worker.call<({ handle: number } & HeldRead) | { busy: string } | { lifecycleBusy: string }>(
        "begin",
        { file, expect, kind, timeoutMs, home, ...(other ? { other } : {}) },
        file,
        "BEGIN IMMEDIATE",
      );
      if ("lifecycleBusy" in began) return { busy: new StoreError(began.lifecycleBusy, "locked") };
      if ("busy" in began) return { busy: busyError(file, began.busy) };
      const { handle, ...read } = began;
      let committed = false;
      return {
        read,
        // Only the state database has a lock (the gateway's lifecycle lock) that can be taken over while held.
        lost: async () =>
          kind === "state"
            ? ((await worker.call<string | null>("lost", { handle }, file, "checking its lock")) ?? undefined)
            : undefined,
        async commit(writes) {
          const args = { handle, home, writes, now: Date.now() };
          const done = await worker.call<{ lost?: string }>("commit", args, file, "writing auth cells and COMMIT");
          committed = done.lost === undefined;
          return done.lost;
        },
        // Committed, the child let the locks go with the COMMIT. A child killed at its deadline took the
        // connection and its transaction with it: nothing to roll back.
        release: async () => {
          if (committed) return;
          await worker.call("release", { handle }, file, "ROLLBACK").catch(() => undefined);
        },
      };
    },
  };
}
