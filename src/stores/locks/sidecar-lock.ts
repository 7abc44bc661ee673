/**
 * The lock OpenClaw uses from about 2026.4 (`withFileLock`): a sidecar *file* `<realdir>/auth-profiles.json.lock`
 * created exclusively, holding `{pid, createdAt}`. It is stale when its pid is dead, or it is older than
 * `stale`. proper-lockfile's lock is a directory of the same name, so the two protocols also exclude each
 * other; this one is used where the gateway itself uses it.
 */
import { open, realpath, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { formatDuration } from "../../core/duration.js";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { readRegularFile } from "../../fs/read-file.js";
import { isAlive } from "../../core/process-identity.js";
import { GATEWAY_LOCK_STALE_MS, lockRetryDelay } from "./directory-lock.js";

async function lockPathFor(file: string): Promise<string> {
  const dir = path.dirname(path.resolve(file));
  const realDir = await realpath(dir).catch(() => dir);
  return path.join(realDir, `${path.basename(file)}.lock`);
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
  return stat(lockPath).then(
    (s) => Date.now() - s.mtimeMs > GATEWAY_LOCK_STALE_MS,
    () => true,
  );
}

/** Runs `fn` holding the sidecar lock, waiting at most `timeoutMs` for it. */
export async function withSidecarLock<T>(file: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lockPath = await lockPathFor(file);
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, "wx", 0o600);
      try {
        await handle.writeFile(
          JSON.stringify({ pid: process.pid, createdAt: new Date().toISOString(), hostname: os.hostname() }, null, 2),
        );
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if (errnoCode(err) !== "EEXIST")
        throw new StoreError(`${file} cannot be locked: ${messageOf(err)}`, "unwritable");
      // A stale lock may be proper-lockfile's directory of the same name (a json-v1 writer killed before an
      // upgrade). If it cannot be removed, wait like for a live one: retrying at once would spin forever.
      if (
        (await isStale(lockPath)) &&
        (await rm(lockPath, { force: true, recursive: true }).then(
          () => true,
          () => false,
        ))
      )
        continue;
      if (Date.now() - started >= timeoutMs)
        throw new StoreError(
          `${file} is locked by another process (gave up after ${formatDuration(timeoutMs)})`,
          "locked",
        );
      await sleep(lockRetryDelay(attempt));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true }).catch(() => undefined);
  }
}
