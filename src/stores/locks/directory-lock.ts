/**
 * The gateway's store lock: proper-lockfile on `auth-profiles.json`, i.e. a `<realpath>.lock` directory
 * whose mtime the holder refreshes. `stale` must equal the gateway's (30 s, docs/stores.md) or the two
 * would disagree about when a lock is abandoned; only the retry schedule is ours to choose.
 */
import fs from "node:fs";
import { realpath } from "node:fs/promises";
import path from "node:path";
import type { BackoffPolicy } from "../../core/backoff.js";
import { formatDuration } from "../../core/duration.js";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { fileIdentity } from "../../fs/identity.js";
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
/**
 * The identity of each lock directory we made and still hold, by path. One `fs` object serves every lock, so
 * proper-lockfile's probe of the mtime precision (a utimes and a stat) runs once per process, not per lock.
 */
const madeByUs = new Map<string, string>();
// proper-lockfile notices a takeover only at its next mtime update (every 15 s); the lock directory's identity
// tells at once, so a write is never made under a lock another process took meanwhile, and our release (or
// exit) never removes the directory that is now the other process's lock. A path we hold no lock on (a failed
// probe's own cleanup) is removed as proper-lockfile asks.
const ours = (dir: string) => {
  const made = madeByUs.get(dir);
  return made === undefined || fileIdentity(dir) === made;
};
const guardedFs = {
  ...fs,
  rmdir: (dir: string, done: (err: NodeJS.ErrnoException | null) => void) =>
    ours(dir) ? fs.rmdir(dir, done) : done(null),
  rmdirSync: (dir: string) => (ours(dir) ? fs.rmdirSync(dir) : undefined),
};

/**
 * The lock on `file`, which must exist. proper-lockfile reports a lock it finds taken over (another process
 * judged it stale) through `onCompromised`; the held lock then says it is lost, instead of crashing the daemon.
 */
export function directoryLock(file: string, timeoutMs: number): StoreLock<HeldLock> {
  return {
    retry: FILE_LOCK_RETRY,
    timeoutMs,
    async tryLock() {
      // Resolved once, here, as the gateway resolves it (proper-lockfile's own realpath is an lstat per path
      // part): the moment between taking the lock and noting it stays as short as can be.
      const target = await realpath(file).catch(() => path.resolve(file));
      const lockDir = `${target}.lock`;
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
        if (errnoCode(err) === "ELOCKED") return { busy: lockedError(file, timeoutMs) };
        throw new StoreError(`${file} cannot be locked: ${messageOf(err)}`, "unwritable");
      }
      const made = fileIdentity(lockDir);
      if (made !== undefined) madeByUs.set(lockDir, made);
      const lost = () => compromised ?? (ours(lockDir) ? undefined : "lock was taken over as stale");
      return {
        lost: () => Promise.resolve(lost()),
        release: () =>
          release().finally(() => {
            if (madeByUs.get(lockDir) === made) madeByUs.delete(lockDir);
          }),
        journalEntry: lockDir,
      };
    },
  };
}
