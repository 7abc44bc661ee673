/**
 * The gateway's store lock: proper-lockfile on `auth-profiles.json`, i.e. a `<realpath>.lock` directory
 * whose mtime the holder refreshes. `stale` must equal the gateway's (30 s, docs/stores.md) or the two
 * would disagree about when a lock is abandoned; only the retry schedule is ours to choose.
 */
import fs from "node:fs";
import type { BackoffPolicy } from "../../core/backoff.js";
import { formatDuration } from "../../core/duration.js";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { fileIdentity } from "../../fs/identity.js";
import { forgetLock, noteLock } from "./journal.js";
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
      let notedMtime: number | undefined;
      const ours = (dir: string) => made === undefined || fileIdentity(dir) === made;
      const mine = (dir: string) => made !== undefined && dir === lockDir && fileIdentity(dir) === made;
      // The journal's note is written in the same synchronous step that makes the lock directory, and before
      // each change of its mtime, and forgotten before we remove it: no kill can leave our lock unnoted
      // (bar the few system calls between mkdir and the note), nor a note naming a directory we removed.
      const guardedFs = {
        ...fs,
        mkdir: (dir: string, done: (err: NodeJS.ErrnoException | null) => void) => {
          try {
            fs.mkdirSync(dir);
          } catch (err) {
            return process.nextTick(done, err);
          }
          lockDir = dir;
          made = fileIdentity(dir);
          if (journal) notedMtime = noteLock(journal, dir);
          process.nextTick(done, null);
        },
        utimes: (dir: string, atime: Date, mtime: Date, done: (err: NodeJS.ErrnoException | null) => void) => {
          if (journal && mine(dir) && notedMtime !== mtime.getTime()) notedMtime = noteLock(journal, dir, mtime);
          fs.utimes(dir, atime, mtime, done);
        },
        rmdir: (dir: string, done: (err: NodeJS.ErrnoException | null) => void) => {
          if (!ours(dir)) return done(null);
          if (journal && mine(dir)) forgetLock(journal, dir);
          fs.rmdir(dir, done);
        },
        rmdirSync: (dir: string) => {
          if (!ours(dir)) return;
          if (journal && mine(dir)) forgetLock(journal, dir);
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
