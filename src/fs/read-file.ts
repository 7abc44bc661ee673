/**
 * The one way this program reads a file: gateway config, stores, locks, the lock journal, credentials, its
 * own config, state and pid files. A FIFO, a device or a socket in a file's place must not hang or bloat us,
 * so every read opens non-blocking, checks on the open descriptor that it is a regular file, and is capped.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Stats } from "node:fs";
import { errnoCode } from "../core/errors.js";

/**
 * The cap of a file read without one of its own: credential files and our own small files (locks, journal notes,
 * pid and state files, config) are a few KB, so anything near this is garbage, not a login or a record.
 */
export const MAX_SMALL_FILE_BYTES = 1024 * 1024;

export class NotARegularFileError extends Error {
  readonly code = "ENOTREG";
}
export class FileTooLargeError extends Error {
  readonly code = "EFBIG";
}

export interface ReadOptions {
  maxBytes?: number;
  /** False for files only we make (locks, journal, pid and state files): a symlink there is planted. */
  followSymlinks?: boolean;
}

/** What a non-regular file is, for the one-line error. */
export function fileKind(stat: Stats): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isSocket()) return "a socket";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSymbolicLink()) return "a symlink";
  return "not a regular file";
}

/** Opened non-blocking (a FIFO must not hang us), and never through a symlink when it is not followed. */
const openFlags = (options: ReadOptions) =>
  constants.O_RDONLY | constants.O_NONBLOCK | (options.followSymlinks === false ? constants.O_NOFOLLOW : 0);

/** The open's error, with the one-line reason when a symlink stood where none may. */
function openError(err: unknown, file: string, options: ReadOptions): unknown {
  if (errnoCode(err) === "ELOOP" && options.followSymlinks === false) {
    return new NotARegularFileError(`${file} is a symlink, which only an attacker would put there`);
  }
  return err;
}

function assertRegular(stat: Stats, file: string): void {
  if (!stat.isFile()) throw new NotARegularFileError(`${file} is ${fileKind(stat)}, not a regular file`);
}

/**
 * Opens a regular file for reading, checked on the open descriptor; the caller closes it. Only a stream
 * that is meant to be long (a log file) reads from it directly; everything else uses `readRegularFile`.
 */
export async function openRegularFile(file: string, options: ReadOptions = {}): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, openFlags(options));
  } catch (err) {
    throw openError(err, file, options);
  }
  try {
    assertRegular(await handle.stat(), file);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Reads a regular file as UTF-8, at most `maxBytes`: a bigger one is refused, never read in full, even if
 * it grows while we read it. The system calls are made at once, not on libuv's thread pool: the files are
 * small and local, and a pass over 10,000 stores spent more on the pool's round trips (a lock, a wake-up and
 * a promise per call, four calls per read) than on the reads.
 */
export function readRegularFile(file: string, options: ReadOptions = {}): Promise<string> {
  return Promise.resolve().then(() => readRegularFileSync(file, options));
}

function readRegularFileSync(file: string, options: ReadOptions): string {
  const maxBytes = options.maxBytes ?? MAX_SMALL_FILE_BYTES;
  let fd: number;
  try {
    fd = openSync(file, openFlags(options));
  } catch (err) {
    throw openError(err, file, options);
  }
  try {
    const stat = fstatSync(fd);
    assertRegular(stat, file);
    const { size } = stat;
    if (size > maxBytes) throw new FileTooLargeError(`${file} is ${size} bytes, more than ${maxBytes}`);
    const chunks: Buffer[] = [];
    let length = 0;
    // Read to the end, not to the size fstat gave: a file rewritten in place may have grown meanwhile. A
    // regular file reads short only at its end, so a chunk one byte larger than the file ends most reads at once.
    while (length <= maxBytes) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(size + 1 - length, 4096), 64 * 1024, maxBytes + 1 - length));
      const bytesRead = readSync(fd, chunk, 0, chunk.length, null);
      if (bytesRead > 0) chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (bytesRead < chunk.length) break;
    }
    if (length > maxBytes) throw new FileTooLargeError(`${file} is more than ${maxBytes} bytes`);
    return Buffer.concat(chunks, length).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
