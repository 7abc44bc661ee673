/**
 * The gateway's cross-process lock for writes to its state database (openclaw@2026.9.6
 * `acquireStateDatabaseCoordinator` → `tryAcquireExclusiveSqliteCoordinator`): an exclusive transaction on
 * `/tmp/openclaw-state-locks-<uid>/state-lifecycle.<hash8>.lock.sqlite`, hash8 being the first 8 hex digits of
 * sha256 over the state database's real path. Every gateway writer of auth rows holds it around its own
 * `BEGIN IMMEDIATE`, so holding it too keeps our write out of the middle of theirs. A gateway writer that cannot
 * take it within its 5 s busy timeout fails, so we hold it only for the milliseconds of one transaction.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync } from "node:fs";
import path from "node:path";
import { StoreError, messageOf } from "../../core/errors.js";
import { fileIdentity, realPath } from "../../fs/identity.js";
import { type Database, isBusy, sqliteDriver } from "./driver.js";

/** The gateway resolves the folder under a literal `/tmp` on every non-Windows system, not `$TMPDIR`. */
export const LOCK_RUNTIME_DIR = "/tmp";

export type LockFamily = "state-lifecycle" | "state-handles" | "gateway-lifecycle";

export function lockDirectory(uid: number | undefined, runtimeDir = LOCK_RUNTIME_DIR): string {
  return path.join(realPath(runtimeDir), uid === undefined ? "openclaw-state-locks" : `openclaw-state-locks-${uid}`);
}

/** `<dir>/<family>.<hash8>.lock.sqlite`, as `buildLifecycleCoordinatorPath` names it. */
export function lockPath(
  family: LockFamily,
  stateDb: string,
  uid = process.getuid?.(),
  runtimeDir = LOCK_RUNTIME_DIR,
): string {
  const hash8 = createHash("sha256").update(realPath(stateDb)).digest("hex").slice(0, 8);
  return path.join(lockDirectory(uid, runtimeDir), `${family}.${hash8}.lock.sqlite`);
}

/** The folder as the gateway insists on it: a real folder, ours, 0700. Created the gateway's way when missing. */
function ensureLockDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = lstatSync(dir);
  const uid = process.getuid?.();
  const refuse = (why: string) => new StoreError(`${dir} ${why}; refusing the gateway lock`, "invalid");
  if (info.isSymbolicLink() || !info.isDirectory()) throw refuse("is not a real folder");
  if (uid !== undefined && info.uid !== uid) throw refuse("belongs to another user");
  if ((info.mode & 0o077) !== 0) throw refuse(`is not private (mode ${(info.mode & 0o777).toString(8)})`);
}

/** A held lifecycle lock, or why it is not free: the error to give once the time is up. */
export type LifecycleTry = { release(): void; lost(): string | undefined } | { busy: StoreError };

/**
 * One try at the state-lifecycle lock. It is ours while the lock file at its path is the one we hold the
 * transaction on: the gateway too refuses a coordinator file replaced under it (`readCoordinatorIdentity`).
 */
export function tryStateLifecycleLock(
  stateDb: string,
  timeoutMs: number,
  file = lockPath("state-lifecycle", stateDb),
): LifecycleTry {
  ensureLockDirectory(path.dirname(file));
  let db: Database;
  try {
    db = sqliteDriver().open(file, { create: true, timeoutMs: 0 });
  } catch (err) {
    throw new StoreError(`the gateway lock ${file} cannot be opened: ${messageOf(err)}`, "locked");
  }
  try {
    db.exec("PRAGMA busy_timeout = 0; PRAGMA journal_mode = MEMORY; BEGIN EXCLUSIVE;");
  } catch (err) {
    db.close();
    const why = isBusy(err) ? `another process held it for ${Math.round(timeoutMs / 1000)} s` : messageOf(err);
    const error = new StoreError(`the gateway's state lock ${file} was not free: ${why}; nothing written`, "locked");
    if (isBusy(err)) return { busy: error };
    throw error;
  }
  const held = fileIdentity(file);
  return {
    lost: () => {
      const now = fileIdentity(file);
      return now !== undefined && now === held ? undefined : `the gateway's state lock ${file} was replaced while held`;
    },
    release: () => {
      try {
        if (db.inTransaction) db.exec("ROLLBACK");
      } finally {
        db.close();
      }
    },
  };
}
