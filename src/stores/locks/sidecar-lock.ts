/**
 * The lock OpenClaw uses from about 2026.4 (`withFileLock`): a sidecar *file* `<realdir>/auth-profiles.json.lock`
 * created exclusively, holding `{pid, createdAt}`. It is stale when its pid is dead, or it is older than
 * `stale`. proper-lockfile's lock is a directory of the same name, so the two protocols also exclude each
 * other; this one is used where the gateway itself uses it. It needs no journal: a lock our killed process
 * left names a dead pid, which makes it stale at once.
 */
import { closeSync, fstatSync, openSync, writeFileSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { fileIdentity, identityOf, realPath } from "../../fs/identity.js";
import { readRegularFile } from "../../fs/read-file.js";
import { isAlive } from "../../core/process-identity.js";
import { FILE_LOCK_RETRY, GATEWAY_LOCK_STALE_MS, lockedError } from "./directory-lock.js";
import type { HeldLock, StoreLock } from "./lock.js";

function lockPathFor(file: string): string {
  const dir = path.dirname(path.resolve(file));
  return path.join(realPath(dir), `${path.basename(file)}.lock`);
}

/** A lock payload is a few bytes, made by a gateway or us: never a symlink. */
const LOCK_READ = { maxBytes: 64 * 1024, followSymlinks: false };

async function isStale(lockPath: string): Promise<boolean> {
  try {
    const payload = JSON.parse(await readRegularFile(lockPath, LOCK_READ)) as { pid?: unknown; createdAt?: unknown };
    if (typeof payload.pid === "number" && !isAlive(payload.pid)) return true;
    if (typeof payload.createdAt === "string" && Date.now() - Date.parse(payload.createdAt) > GATEWAY_LOCK_STALE_MS)
      return true;
  } catch {
    // Unreadable, half-written or a proper-lockfile directory: fall back to its age.
  }
  // Gone meanwhile: not stale, the next try takes it.
  return stat(lockPath).then(
    (s) => Date.now() - s.mtimeMs > GATEWAY_LOCK_STALE_MS,
    () => false,
  );
}

/** The sidecar lock of `file`. Once another process took it over as stale, it is lost, and released untouched. */
export function sidecarLock(file: string, timeoutMs: number): StoreLock<HeldLock> {
  return {
    retry: FILE_LOCK_RETRY,
    timeoutMs,
    async tryLock() {
      const lockPath = lockPathFor(file);
      let quickRetries = 0;
      for (;;) {
        let made: string;
        try {
          // In one synchronous step: a kill between making the file and writing our pid into it would leave a
          // lock nobody can tell is dead, waited for until stale (30 s), instead of taken over at once.
          const payload = { pid: process.pid, createdAt: new Date().toISOString(), hostname: os.hostname() };
          const fd = openSync(lockPath, "wx", 0o600);
          try {
            writeFileSync(fd, JSON.stringify(payload, null, 2));
            made = identityOf(fstatSync(fd, { bigint: true }));
          } finally {
            closeSync(fd);
          }
        } catch (err) {
          if (errnoCode(err) !== "EEXIST")
            throw new StoreError(`${file} cannot be locked: ${messageOf(err)}`, "unwritable");
          // A stale lock may be proper-lockfile's directory of the same name (a json-v1 writer killed before an
          // upgrade). If it cannot be removed, wait like for a live one: retrying at once would spin forever.
          // Only the very file judged stale is removed: one released meanwhile is tried again at once, and one
          // made meanwhile by the next holder is never removed for its predecessor's age (it would then remove
          // ours at its release).
          const judged = fileIdentity(lockPath);
          if (judged === undefined && quickRetries++ < 100) continue;
          const removed =
            judged !== undefined &&
            (await isStale(lockPath)) &&
            fileIdentity(lockPath) === judged &&
            (await rm(lockPath, { force: true, recursive: true }).then(
              () => true,
              () => false,
            ));
          if (removed) continue;
          return { busy: lockedError(file, timeoutMs) };
        }
        // Ours while the name still holds the very file we made: a takeover removes it and makes another.
        const ours = () => fileIdentity(lockPath) === made;
        return {
          lost: () => Promise.resolve(ours() ? undefined : "lock was taken over as stale"),
          release: async () => {
            if (ours()) await rm(lockPath, { force: true });
          },
        };
      }
    },
  };
}
