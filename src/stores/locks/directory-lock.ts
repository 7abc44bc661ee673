/**
 * The gateway's store lock: proper-lockfile on `auth-profiles.json`, i.e. a `<realpath>.lock` directory
 * whose mtime the holder refreshes. `stale` must equal the gateway's (30 s, docs/stores.md) or the two
 * would disagree about when a lock is abandoned; only the retry schedule is ours to choose.
 */
import fs, { type BigIntStats } from "node:fs";
import type { BackoffPolicy } from "../../core/backoff.js";
import { formatDuration } from "../../core/duration.js";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { fileIdentity, identityOf } from "../../fs/identity.js";
import { LockNote } from "./journal.js";
import type { HeldLock, StoreLock } from "./lock.js";

export const GATEWAY_LOCK_STALE_MS = 30_000;

/**
 * How long to wait between tries for a held file lock: 100 ms doubling to 1 s. The gateway's own schedule grows
 * to 10 s, which would take a lock left by a dead holder up to 10 s after it turned stale; ours takes it within
 * a second of that.
 */
export const FILE_LOCK_RETRY: BackoffPolicy = { baseMs: 100, capMs: 1_000, jitter: 0.25 };

export const lockedError = (file: string, timeoutMs: number) =>
  new StoreError(`${file} is locked by another process (gave up after ${formatDuration(timeoutMs)})`, "locked");

/**
 * The lock on `file`, which must exist. proper-lockfile reports a lock it finds taken over (another process
 * judged it stale) through `onCompromised`; the held lock then says it is lost, instead of crashing the daemon.
 */
const statOf = (dir: string): BigIntStats | undefined => {
  try {
    return fs.lstatSync(dir, { bigint: true });
  } catch {
    return undefined;
  }
};

export function directoryLock(file: string, timeoutMs: number): StoreLock<HeldLock> {
  return {
    retry: FILE_LOCK_RETRY,
    timeoutMs,
    async tryLock(journal) {
      let compromised: string | undefined;
      // proper-lockfile notices a takeover only at its next mtime update (every 15 s); the lock directory's
      // identity tells at once, so a write is never made under a lock another process took meanwhile, and
      // our release (or exit) never removes the directory that is now the other process's lock.
      let lockDir: string | undefined;
      let made: string | undefined = undefined;
      let note: LockNote | undefined;
      const ours = (dir: string) => made === undefined || fileIdentity(dir) === made;
      const mine = (dir: string) => made !== undefined && dir === lockDir && fileIdentity(dir) === made;
      // The journal's note is opened before the lock directory is made and written in the same synchronous step
      // (one lstat and one write after mkdir), and again before each change of its mtime, and it is forgotten
      // just before the directory is removed: a kill leaves our lock unnoted only inside those few system calls,
      // and never a note naming a directory we removed.
      const forget = () => {
        note?.forget();
        note = undefined;
      };
      const guardedFs = {
        ...fs,
        mkdir: (dir: string, done: (err: NodeJS.ErrnoException | null) => void) => {
          note = journal ? new LockNote(journal, dir) : undefined;
          try {
            fs.mkdirSync(dir);
          } catch (err) {
            forget();
            return process.nextTick(done, err);
          }
          const now = statOf(dir);
          if (now) note?.record(now);
          lockDir = dir;
          made = now && identityOf(now);
          process.nextTick(done, null);
        },
        utimes: (dir: string, atime: Date, mtime: Date, done: (err: NodeJS.ErrnoException | null) => void) => {
          const now = note && note.notedMtimeMs !== mtime.getTime() && mine(dir) ? statOf(dir) : undefined;
          if (now) note!.record(now, mtime);
          fs.utimes(dir, atime, mtime, done);
        },
        rmdir: (dir: string, done: (err: NodeJS.ErrnoException | null) => void) => {
          // Taken over: the directory is another holder's now, and our note names a lock that is gone.
          if (!ours(dir)) return (forget(), done(null));
          if (!note || !mine(dir)) return fs.rmdir(dir, done);
          // Synchronously after the note is gone: an await between would leave a kill our lock unnoted.
          forget();
          try {
            fs.rmdirSync(dir);
          } catch (err) {
            return process.nextTick(done, err);
          }
          process.nextTick(done, null);
        },
        rmdirSync: (dir: string) => {
          if (!ours(dir)) return forget();
          if (mine(dir)) forget();
          fs.rmdirSync(dir);
        },
      };
      let release: () => Promise<void>;
      try {
        // Loaded on first use: it brings graceful-fs (about 8 MB of RSS), which a daemon whose stores are all
        // SQLite never needs.
        const { default: lockfile } = await import("proper-lockfile");
        release = await lockfile.lock(file, {
          stale: GATEWAY_LOCK_STALE_MS,
          retries: 0,
          fs: guardedFs,
          onCompromised: () => (compromised = "lock was taken over as stale"),
        });
      } catch (err) {
        if (errnoCode(err) === "ELOCKED") return { busy: lockedError(file, timeoutMs) };
        throw new StoreError(`${file} cannot be locked: ${messageOf(err)}`, "unwritable");
      }
      const held = lockDir!;
      const lost = () => compromised ?? (ours(held) ? undefined : "lock was taken over as stale");
      return { lost: () => Promise.resolve(lost()), release: () => release() };
    },
  };
}
