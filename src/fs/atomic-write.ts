/**
 * Replaces a file the way a crash cannot half-do and another user cannot steer: a temp file with a random
 * name, created exclusively and never through a symlink, in the target's folder; mode and owner set on the
 * open descriptor; fsync, rename, then fsync of the folder so the rename itself survives a power loss.
 * Readers see the old or the new file.
 */
import { constants, type Stats } from "node:fs";
import { randomBytes } from "node:crypto";
import { lstat, open, realpath, rename, rm } from "node:fs/promises";
import path from "node:path";
import { StoreError, errnoCode } from "../core/errors.js";
import { fileKind } from "./read-file.js";
import { assertOwnFolder } from "./owner.js";

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** `<name>.<16 hex>.tmp`: unguessable, so nobody can plant a link at the name before we create it. */
export const TEMP_SUFFIX = /\.[0-9a-f]{16}\.tmp$/;
const tempName = (file: string) => `${file}.${randomBytes(8).toString("hex")}.tmp`;

function refuse(why: string): never {
  throw new StoreError(`${why}; not written`, "unwritable");
}

export interface WriteTarget {
  /** The file to replace: `file` itself, or the target of a symlink that may be followed. */
  path: string;
  /** The file as it is now, when it exists. */
  existing?: Stats;
}

/**
 * Where a write to `file` lands. A symlink is followed only when `symlinkRoot` is given and its target is a
 * regular file inside that folder owned by us; anything else (a symlink elsewhere, a FIFO, a folder in the
 * file's place) is refused in one line.
 */
export async function writeTarget(file: string, symlinkRoot?: string): Promise<WriteTarget> {
  let stat: Stats;
  try {
    stat = await lstat(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { path: file };
    throw err;
  }
  if (stat.isFile()) return { path: file, existing: stat };
  if (!stat.isSymbolicLink()) refuse(`${file} is ${fileKind(stat)}, not a regular file`);
  const target = await realpath(file).catch(() => undefined);
  if (!symlinkRoot || target === undefined) {
    refuse(`${file} is a symlink${target ? ` to ${target}` : " to nothing"}; not followed`);
  }
  const root = await realpath(symlinkRoot);
  const rel = path.relative(root, target);
  if (rel.startsWith("..") || path.isAbsolute(rel)) {
    refuse(`${file} is a symlink to ${target}, outside ${root}`);
  }
  const real = await lstat(target);
  if (!real.isFile()) refuse(`${file} is a symlink to ${fileKind(real)}`);
  const uid = process.geteuid?.();
  if (uid !== undefined && real.uid !== uid) {
    refuse(`${file} is a symlink to ${target}, owned by uid ${real.uid}, not us`);
  }
  return { path: target, existing: real };
}

export interface WriteOptions {
  /** The folder a symlinked `file` may point into (the gateway state dir); without it, no symlink is followed. */
  symlinkRoot?: string;
}

export async function writeFileAtomically(file: string, content: string, options: WriteOptions = {}): Promise<void> {
  const target = await writeTarget(file, options.symlinkRoot);
  const dir = path.dirname(target.path);
  await assertOwnFolder(dir);
  const temp = tempName(target.path);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(temp, flags, PRIVATE_FILE_MODE);
  try {
    try {
      await handle.writeFile(content);
      // On the descriptor, never by path: the umask may have narrowed the mode, and a path can be swapped.
      await handle.chmod(PRIVATE_FILE_MODE);
      // Keep the owner of an existing file, so running as root never hands a user's store to root.
      const owner = target.existing;
      if (owner && process.geteuid?.() === 0 && (owner.uid !== 0 || owner.gid !== process.getegid?.())) {
        await handle.chown(owner.uid, owner.gid);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target.path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename has still happened.
  } finally {
    await handle.close();
  }
}
