/**
 * A note of every store lock we hold, so that a lock left by our own killed process (SIGKILL, OOM) is removed
 * at our next start instead of blocking the gateway and us for the 30 s stale time. A lock is removed only
 * when the note's process is dead and the lock directory is still the very one we made (same identity, an
 * mtime we gave it): a lock that anyone took since is never touched.
 *
 * Notes are written synchronously, in the same step that makes or touches the lock (directory-lock.ts): an
 * await between the two would leave a lock that a kill makes unnoted, and so waited for until stale. They
 * need no fsync: they outlive a killed process, and a torn one only means the wait.
 */
import { createHash } from "node:crypto";
import { type BigIntStats, closeSync, constants, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { lstat, readdir, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { readRegularFile } from "../../fs/read-file.js";
import { isAlive } from "../../core/process-identity.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../../fs/atomic-write.js";
import { identityOf } from "../../fs/identity.js";
import { assertTrusted } from "../../fs/trust.js";

interface Note {
  pid: number;
  lockDir: string;
  /** identity.ts: device, inode and birth time of the lock directory we made. */
  identity: string;
  /** Its mtime (whole ms) as we left it, and the one we are setting, so a kill between the two still matches. */
  mtimesMs: number[];
}

const NOTE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
/** Every write of a note fills this many bytes (JSON allows trailing spaces): a shorter rewrite leaves no tail. */
const NOTE_BYTES = 4096;

/**
 * The note of one lock of ours, opened before the lock is made (one file per lock and process, so no other
 * holder's note is ever touched), so that noting it after mkdir is one lstat and one write. Best effort: a note
 * that cannot be written leaves the lock to turn stale, as without a journal.
 */
export class LockNote {
  private readonly file: string;
  private fd: number | undefined;
  private lastMtimeMs: number | undefined;

  constructor(
    journal: string,
    private readonly lockDir: string,
  ) {
    const name = createHash("sha256").update(lockDir).digest("hex").slice(0, 16);
    this.file = path.join(journal, `${name}-${process.pid}.json`);
    try {
      assertTrusted(journal, { action: "keep lock notes in" });
      mkdirSync(journal, { recursive: true, mode: PRIVATE_DIR_MODE });
      assertTrusted(journal, { action: "keep lock notes in" });
      this.fd = openSync(this.file, NOTE_FLAGS, PRIVATE_FILE_MODE);
    } catch {
      this.fd = undefined;
    }
  }

  /** Notes the lock directory as `now` shows it (made by us) and, with `next`, the mtime about to be set. */
  record(now: BigIntStats, next?: Date): void {
    if (this.fd === undefined) return;
    const mtimesMs = [Number(now.mtimeNs / 1_000_000n)];
    if (next) mtimesMs.push(next.getTime());
    const note: Note = { pid: process.pid, lockDir: this.lockDir, identity: identityOf(now), mtimesMs };
    try {
      writeSync(this.fd, JSON.stringify(note).padEnd(NOTE_BYTES), 0);
      this.lastMtimeMs = mtimesMs.at(-1);
    } catch {
      // Unnoted: the lock turns stale like any other.
    }
  }

  /** The mtime noted last, to skip a note when an update sets the same one. */
  get notedMtimeMs(): number | undefined {
    return this.lastMtimeMs;
  }

  /** Forgets the note: before the lock directory is removed, never after, and when it was never made. */
  forget(): void {
    if (this.fd === undefined) return;
    try {
      rmSync(this.file, { force: true });
      closeSync(this.fd);
    } catch {
      // A note left names a lock that is gone, or no longer ours by identity: recovery drops it.
    }
    this.fd = undefined;
  }
}

/** Whole ms, as noted: the ns mtime a Date set through utimes can be a hair below the Date's ms. */
const wholeMs = (ns: bigint) => [Number(ns / 1_000_000n), Number((ns + 999_999n) / 1_000_000n)];

/**
 * Removes locks our dead processes left behind; returns the lock dirs removed. As root, a journal (or a lock a
 * note names) in a tree another user controls is refused: its notes could name any empty folder of root's.
 */
export async function recoverLocks(journal: string): Promise<string[]> {
  assertTrusted(journal, { action: "recover locks from" });
  const recovered: string[] = [];
  for (const name of await readdir(journal).catch(() => [] as string[])) {
    const file = path.join(journal, name);
    let note: Partial<Note>;
    try {
      note = JSON.parse(await readRegularFile(file, { followSymlinks: false })) as Partial<Note>;
    } catch {
      await rm(file, { force: true });
      continue;
    }
    if (typeof note.pid === "number" && isAlive(note.pid)) continue;
    if (typeof note.lockDir === "string") assertTrusted(note.lockDir, { action: "remove the lock" });
    const now =
      typeof note.lockDir === "string" ? await lstat(note.lockDir, { bigint: true }).catch(() => undefined) : undefined;
    const same =
      now !== undefined &&
      now.isDirectory() &&
      identityOf(now) === note.identity &&
      Array.isArray(note.mtimesMs) &&
      wholeMs(now.mtimeNs).some((ms) => note.mtimesMs!.includes(ms));
    if (
      same &&
      (await rmdir(note.lockDir!).then(
        () => true,
        () => false,
      ))
    )
      recovered.push(note.lockDir!);
    await rm(file, { force: true });
  }
  return recovered;
}
