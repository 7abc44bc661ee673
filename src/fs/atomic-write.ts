/**
 * Replaces a file the way a crash cannot half-do and another user cannot steer: a temp file with a random
 * name, created exclusively and never through a symlink, in the target's folder; mode and owner set on the
 * open descriptor; fsync, rename, then fsync of the folder so the rename itself survives a power loss.
 * Readers see the old or the new file. A file that must not exist yet is made the same way, with link() in
 * place of the rename, so it is never made over one that appeared meanwhile.
 */
import fs, { constants, type Stats } from "node:fs";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import path from "node:path";
import { StoreError, errnoCode } from "../core/errors.js";
import { fileKind } from "./read-file.js";
import { atFd, openTrustedDir } from "./trust.js";

/**
 * What may wait on the filesystem's journal (creating the temp file, a rename, a change of mode or owner) or on
 * the disk (fsync) runs on the thread pool, so a pass keeps several stores in flight while one waits. What only
 * reads (an lstat, a realpath) or fills the page cache (a write of a few KB) is made at once, as the reader does
 * (read-file.ts): on the pool, its round trips cost a pass over 10,000 stores more than the calls themselves.
 */
const fsync = promisify(fs.fsync);
const openFile = promisify(fs.open);
const fchmod = promisify(fs.fchmod);
const fchown = promisify(fs.fchown);
const rename = promisify(fs.rename);
const link = promisify(fs.link);

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** `<name>.<16 hex>.tmp`: unguessable, so nobody can plant a link at the name before we create it. */
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
  return Promise.resolve().then(() => writeTargetSync(file, symlinkRoot));
}

function writeTargetSync(file: string, symlinkRoot?: string): WriteTarget {
  let stat: Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { path: file };
    throw err;
  }
  if (stat.isFile()) return { path: file, existing: stat };
  if (!stat.isSymbolicLink()) refuse(`${file} is ${fileKind(stat)}, not a regular file`);
  const target = realpathOrUndefined(file);
  if (!symlinkRoot || target === undefined) {
    refuse(`${file} is a symlink${target ? ` to ${target}` : " to nothing"}; not followed`);
  }
  const root = fs.realpathSync.native(symlinkRoot);
  const rel = path.relative(root, target);
  if (rel.startsWith("..") || path.isAbsolute(rel)) {
    refuse(`${file} is a symlink to ${target}, outside ${root}`);
  }
  const real = fs.lstatSync(target);
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

const realpathOrUndefined = (file: string) => {
  try {
    return fs.realpathSync.native(file);
  } catch {
    return undefined;
  }
};

export async function writeFileAtomically(file: string, content: string, options: WriteOptions = {}): Promise<void> {
  const target = writeTargetSync(file, options.symlinkRoot);
  const at = landing(target.path);
  try {
    const temp = await writeTemp(at.name(target.path), content, target.existing);
    try {
      if (target.existing) assertNotRemoved(at.name(target.path), target.path);
      await rename(temp, at.name(target.path));
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw err;
    }
    await fsyncDir(at);
  } finally {
    at.close();
  }
}

/**
 * A file we replace that vanished while its temp file was written was removed, most likely with its folder by an
 * operator's `rm -rf` (which reads the folder, unlinks each name, then removes the folder): renaming would make it
 * again and leave the folder not empty. The caller's catch removes the temp file at once.
 */
function assertNotRemoved(name: string, file: string): void {
  try {
    fs.lstatSync(name);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") refuse(`${file} was removed while it was being written; not made again`);
    throw err;
  }
}

/**
 * Makes `file`, which must not exist, whole: its content is on disk before its name is, so no crash and no
 * reader ever sees it empty or half-written. False, with nothing changed, when something (a file, a link, a
 * folder) already has the name, or the filesystem has no hard links.
 */
export async function createFileAtomically(file: string, content: string): Promise<boolean> {
  const at = landing(file);
  try {
    const temp = await writeTemp(at.name(file), content, undefined);
    let made: boolean;
    try {
      // link() never replaces and never follows a link at the new name: the create-if-absent that rename lacks.
      await link(temp, at.name(file));
      made = true;
    } catch (err) {
      if (!NOT_MADE.has(errnoCode(err) ?? "")) throw err;
      made = false;
    } finally {
      fs.rmSync(temp, { force: true });
    }
    if (made) await fsyncDir(at);
    return made;
  } finally {
    at.close();
  }
}

/**
 * The folder a write lands in. As root (trust.ts) it is held open, checked owned by root from `/` on
 * descriptors, and every name is made inside that descriptor, so a folder swapped for a symlink after the
 * check cannot redirect the write; otherwise it is the path.
 */
interface Landing {
  name(file: string): string;
  dir: string;
  fd: number | undefined;
  close(): void;
}

function landing(file: string): Landing {
  const dir = path.dirname(file);
  const fd = openTrustedDir(dir, { followLast: true });
  return {
    dir,
    fd,
    name: (f) => (fd === undefined ? f : atFd(fd, path.basename(f))),
    close: () => {
      if (fd !== undefined) fs.closeSync(fd);
    },
  };
}

/** link()'s answers for a name that is taken, and for a filesystem that cannot link. */
const NOT_MADE = new Set(["EEXIST", "EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK"]);

/** The temp file beside `file`, with `content`, private (with `owner`'s ids when root replaces it), fsynced. */
async function writeTemp(file: string, content: string, owner: Stats | undefined): Promise<string> {
  const temp = tempName(file);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const fd = await openFile(temp, flags, PRIVATE_FILE_MODE);
  try {
    try {
      fs.writeFileSync(fd, content);
      // On the descriptor, never by path: the umask may have narrowed the mode, and a path can be swapped.
      if ((fs.fstatSync(fd).mode & 0o7777) !== PRIVATE_FILE_MODE) await fchmod(fd, PRIVATE_FILE_MODE);
      // Keep the owner of an existing file, so running as root never hands a user's store to root.
      if (owner && process.geteuid?.() === 0 && (owner.uid !== 0 || owner.gid !== process.getegid?.())) {
        await fchown(fd, owner.uid, owner.gid);
      }
      await fsync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  return temp;
}

async function fsyncDir(at: Landing): Promise<void> {
  const fd = at.fd ?? fs.openSync(at.dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename has still happened.
  } finally {
    if (at.fd === undefined) fs.closeSync(fd);
  }
}
