/**
 * A note of every store lock we hold, so that a lock left by our own killed process (SIGKILL, OOM) is removed
 * at our next start instead of blocking the gateway and us for the 30 s stale time. A lock is removed only
 * when the note's process is dead and the lock directory is still the very one we made (same mtime): a lock
 * that anyone took since is never touched.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, readdir, rm, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { errnoCode } from "../../core/errors.js";
import { readRegularFile } from "../../fs/read-file.js";
import { isAlive } from "../../core/process-identity.js";

interface Note {
  pid: number;
  lockDir: string;
  mtimeMs: number;
}

const noteFile = (journal: string, lockDir: string) =>
  path.join(journal, `${createHash("sha256").update(lockDir).digest("hex").slice(0, 16)}.json`);

const NOTE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/**
 * Records a lock just taken; returns the function that forgets it on release. A note only has to outlive a
 * killed process, whose writes the page cache keeps: it is neither fsynced nor renamed into place (that was
 * two fsyncs per store write). After a power loss a note may be torn or missing, and a recovery that reads one
 * half-written removes it: a torn note is removed unread, and a lock without a note turns stale after 30 s as
 * it would without the journal.
 */
export async function noteLock(journal: string, lockDir: string): Promise<() => Promise<void>> {
  const mtimeMs = (await stat(lockDir)).mtimeMs;
  const file = noteFile(journal, lockDir);
  const content = JSON.stringify({ pid: process.pid, lockDir, mtimeMs } satisfies Note);
  const handle = await open(file, NOTE_FLAGS, 0o600).catch(async (err: unknown) => {
    if (errnoCode(err) !== "ENOENT") throw err;
    await mkdir(journal, { recursive: true, mode: 0o700 });
    return open(file, NOTE_FLAGS, 0o600);
  });
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return () =>
    unlink(file).catch((err: unknown) => {
      if (errnoCode(err) !== "ENOENT") throw err;
    });
}

/** Removes locks our dead processes left behind; returns the lock dirs removed. */
export async function recoverLocks(journal: string): Promise<string[]> {
  const recovered: string[] = [];
  for (const name of await readdir(journal).catch(() => [] as string[])) {
    const file = path.join(journal, name);
    let note: Note;
    try {
      note = JSON.parse(await readRegularFile(file, { followSymlinks: false })) as Note;
    } catch {
      await rm(file, { force: true });
      continue;
    }
    if (isAlive(note.pid)) continue;
    const mtimeMs = await stat(note.lockDir).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
    if (
      mtimeMs === note.mtimeMs &&
      (await rmdir(note.lockDir).then(
        () => true,
        () => false,
      ))
    )
      recovered.push(note.lockDir);
    await rm(file, { force: true });
  }
  return recovered;
}
