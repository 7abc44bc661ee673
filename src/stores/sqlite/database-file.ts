/**
 * The first look at a gateway database, before SQLite (in its own process) opens the path: read as the one reader
 * reads (fs/read-file.ts): opened non-blocking and never through a symlink, checked on the descriptor to be a
 * regular file, its header read from that descriptor. A FIFO, device or link in a database's place is refused
 * here without blocking a thread. What is checked is the file's identity (device and inode); SQLite's child
 * compares it with what it opened, so a swap between the two is refused too (worker.ts).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { fileKind } from "../../fs/read-file.js";

export interface DatabaseIdentity {
  dev: number;
  ino: number;
}

const MAGIC = "SQLite format 3\0";

/** Undefined when there is no file; the identity of an SQLite database; else a one-line refusal. */
export function databaseFile(file: string): DatabaseIdentity | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    if (code === "ELOOP") throw new StoreError(`${file} is a symlink; refusing to open it`, "invalid");
    throw new StoreError(`${file} cannot be read: ${messageOf(err)}`, "invalid");
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile())
      throw new StoreError(`${file} is ${fileKind(stat)}, not a regular file; refusing to open it`, "invalid");
    const header = Buffer.alloc(MAGIC.length);
    const bytesRead = readSync(fd, header, 0, MAGIC.length, 0);
    if (header.subarray(0, bytesRead).toString("latin1") !== MAGIC) {
      throw new StoreError(`${file} is not an SQLite database; nothing written`, "invalid");
    }
    return { dev: stat.dev, ino: stat.ino };
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(`${file} cannot be read: ${messageOf(err)}`, "invalid");
  } finally {
    closeSync(fd);
  }
}
