/**
 * The gateway's store lock: proper-lockfile on `auth-profiles.json`, i.e. a `<realpath>.lock` directory
 * whose mtime the holder refreshes. `stale` must equal the gateway's (30 s, docs/stores.md) or the two
 * would disagree about when a lock is abandoned; only the retry schedule is ours to choose.
 */
import fs, { type BigIntStats } from "node:fs";
import type { BackoffPolicy } from "../../core/backoff.js";
import { formatDuration } from "../../core/duration.js";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { fileIdentity, identityOf, realPath } from "../../fs/identity.js";
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

const statOf = (dir: string): BigIntStats | undefined => {
  try {
    return fs.lstatSync(dir, { bigint: true });
  } catch {
    return undefined;
  }
};

/** A lock directory this process is taking or holds: the journal to note it in, its note, its identity once made. */
interface LockState {
  journal: string | undefined;
  made?: string;
  note?: LockNote;
}

/** By lock directory path; one try at a time per path, so a state is never shared by two tries. */
const states = new Map<string, LockState>();

// proper-lockfile notices a takeover only at its next mtime update (every 15 s); the lock directory's identity
// tells at once, so a write is never made under a lock another process took meanwhile, and our release (or exit)
// never removes the directory that is now the other process's lock. A path we made no lock at (a stale lock of
// another's that proper-lockfile removes before taking it) is removed as it asks.
const ours = (dir: string) => {
  const made = states.get(dir)?.made;
  return made === undefined || fileIdentity(dir) === made;
};
const mine = (state: LockState, dir: string) => state.made !== undefined && fileIdentity(dir) === state.made;

// The journal's note is opened before the lock directory is made and written in the same synchronous step (one
// lstat and one write after mkdir), and again before each change of its mtime, and it is forgotten just before
// the directory is removed: a kill leaves our lock unnoted only inside those few system calls, and never a note
// naming a directory we removed.
const forget = (state: LockState) => {
  state.note?.forget();
  state.note = undefined;
};

type Done = (err: NodeJS.ErrnoException | null) => void;

/**
 * One fs object for every lock: proper-lockfile caches its probe of the mtime precision (a utimes and a stat)
 * on the object, so it runs once per process, not once per lock.
 */
const guardedFs = {
  ...fs,
  mkdir: (dir: string, done: Done) => {
    const state = states.get(dir);
    if (state) state.note = state.journal ? new LockNote(state.journal, dir) : undefined;
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      if (state) forget(state);
      return process.nextTick(done, err);
    }
    const now = statOf(dir);
    if (state) {
      if (now) state.note?.record(now);
      state.made = now && identityOf(now);
    }
    process.nextTick(done, null);
  },
  utimes: (dir: string, atime: Date, mtime: Date, done: Done) => {
    const state = states.get(dir);
    const note = state?.note;
    const now = note && note.notedMtimeMs !== mtime.getTime() && mine(state, dir) ? statOf(dir) : undefined;
    if (now) note!.record(now, mtime);
    fs.utimes(dir, atime, mtime, done);
  },
  rmdir: (dir: string, done: Done) => {
    const state = states.get(dir);
    if (!state) return fs.rmdir(dir, done);
    // Taken over: the directory is another holder's now, and our note names a lock that is gone.
    if (!ours(dir)) return (forget(state), done(null));
    if (!state.note || !mine(state, dir)) return fs.rmdir(dir, done);
    // Synchronously after the note is gone: an await between would leave a kill our lock unnoted.
    forget(state);
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      return process.nextTick(done, err);
    }
    process.nextTick(done, null);
  },
  rmdirSync: (dir: string) => {
    const state = states.get(dir);
    if (state && !ours(dir)) return forget(state);
    if (state && mine(state, dir)) forget(state);
    fs.rmdirSync(dir);
  },
};

/**
 * The lock on `file`, which must exist. proper-lockfile reports a lock it finds taken over (another process
 * judged it stale) through `onCompromised`; the held lock then says it is lost, instead of crashing the daemon.
 */
export function directoryLock(file: string, timeoutMs: number): StoreLock<HeldLock> {
  return {
    retry: FILE_LOCK_RETRY,
    timeoutMs,
    async tryLock(journal) {
      // Resolved once, here, as the gateway resolves it (proper-lockfile's own realpath is an lstat per path
      // part), and at once, as the store's reads and writes are (fs/read-file.ts).
      const target = realPath(file);
      const lockDir = `${target}.lock`;
      // Held or being taken by this process already: busy, as proper-lockfile would find it.
      if (states.has(lockDir)) return { busy: lockedError(file, timeoutMs) };
      const state: LockState = { journal };
      states.set(lockDir, state);
      let compromised: string | undefined;
      let release: () => Promise<void>;
      try {
        // Loaded on first use: it brings graceful-fs (about 8 MB of RSS), which a daemon whose stores are all
        // SQLite never needs.
        const { default: lockfile } = await import("proper-lockfile");
        release = await lockfile.lock(target, {
          stale: GATEWAY_LOCK_STALE_MS,
          retries: 0,
          realpath: false,
          fs: guardedFs,
          onCompromised: () => (compromised = "lock was taken over as stale"),
        });
      } catch (err) {
        forget(state);
        states.delete(lockDir);
        if (errnoCode(err) === "ELOCKED") return { busy: lockedError(file, timeoutMs) };
        throw new StoreError(`${file} cannot be locked: ${messageOf(err)}`, "unwritable");
      }
      const lost = () => compromised ?? (ours(lockDir) ? undefined : "lock was taken over as stale");
      const done = () => void (states.get(lockDir) === state && states.delete(lockDir));
      return { lost: () => Promise.resolve(lost()), release: () => release().finally(done) };
    },
  };
}
