/**
 * What root may act on, as sudo and sshd decide it: a path is trusted only if it and every folder above it,
 * from `/`, is owned by root and writable by no one else (a group other than root's, or everyone without the
 * sticky bit that /tmp has), so that no other user can swap a folder or plant a symlink on the way. A symlink
 * on the way counts only when root owns it; a symlink the caller did not expect at the end is refused. Not
 * root: nothing to check, a user acts on what is its own.
 *
 * For writes, openTrustedDir walks the same rule on descriptors (Linux: each folder opened with O_NOFOLLOW
 * from the previous one through /proc/self/fd, an openat stand-in), so a link flipped in a component after
 * the check cannot redirect the write. assertTrusted walks by path: exact for what nobody else can change,
 * a narrowed check where another process races it (docs/reliability.md, root-trust).
 */
import fs, { constants } from "node:fs";
import path from "node:path";
import { AuthSyncError, errnoCode } from "../core/errors.js";

export const runsAsRoot = () => process.geteuid?.() === 0;

/** Root refusing a path another user could change; such a tree is its owner's to write (`--system USER`). */
export class ForeignOwnerError extends AuthSyncError {
  /** `why` says what is wrong with `dir`: "it belongs to uid 1000", "it is a symlink we did not expect". */
  constructor(dir: string, why: string, action = "write in") {
    super(
      `refusing to ${action} ${dir} as root: ${why}; run as that user ` +
        "(sudo -u USER moltbot-auth-sync …, or `service install --system USER`, which runs the daemon as USER)",
      "store.foreign_owner",
    );
  }
}

export interface TrustOptions {
  /** What root was about to do, for the refusal: "write in", "read", "run". */
  action?: string;
  /** Accept a root-owned symlink as the last component (a program path such as /usr/bin/claude). */
  followLast?: boolean;
}

/** The sticky bit: in such a folder (/tmp) only an entry's owner can remove or rename it. */
const STICKY = 0o1000;

/** Why root cannot trust what `info` describes, or undefined: another owner, or a folder others can write in. */
function distrust(info: fs.Stats): string | undefined {
  if (info.uid !== 0) return `it belongs to uid ${info.uid}`;
  if (!info.isDirectory()) return undefined;
  const others = (info.mode & 0o002) !== 0 && (info.mode & STICKY) === 0;
  const group = (info.mode & 0o020) !== 0 && info.gid !== 0;
  if (others) return "it is a folder anyone can write in";
  return group ? `it is a folder group ${info.gid} can write in` : undefined;
}

/**
 * Throws ForeignOwnerError when we run as root and `p`, or a folder or symlink on its way from `/`, is owned
 * by someone else. A part not there yet is not checked (its nearest existing folder is).
 */
export function assertTrusted(p: string, options: TrustOptions = {}): void {
  if (!runsAsRoot()) return;
  walk(path.resolve(p), options, 0);
}

function walk(p: string, options: TrustOptions, depth: number): void {
  if (depth > 40) throw new ForeignOwnerError(p, "it is too many symlinks", options.action);
  const parts = p.split(path.sep).filter(Boolean);
  let at: string = path.sep;
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(at, parts[i]!);
    const info = fs.lstatSync(next, { throwIfNoEntry: false });
    if (!info) return;
    const why = distrust(info);
    if (why) throw new ForeignOwnerError(next, why, options.action);
    if (info.isSymbolicLink()) {
      const last = i === parts.length - 1;
      if (last && !options.followLast) {
        throw new ForeignOwnerError(next, "it is a symlink we did not expect", options.action);
      }
      const target = path.resolve(at, fs.readlinkSync(next));
      return walk(path.join(target, ...parts.slice(i + 1)), options, depth + 1);
    }
    at = next;
  }
}

/** Whether this host lets us walk a path on descriptors (Linux's /proc/self/fd). */
const descriptorWalk = process.platform === "linux" && fs.existsSync("/proc/self/fd");

/** A path that names `name` inside the folder open at `fd`, without walking any path again. */
export const atFd = (fd: number, name: string) => `/proc/self/fd/${fd}/${name}`;

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/**
 * The folder `dir`, open, when we run as root on Linux: each component opened from the one before it, never
 * through a symlink another user owns, each checked by the same rule on its descriptor.
 * Undefined when not root or when the host has no /proc (then assertTrusted has checked the path).
 * The caller closes it.
 */
export function openTrustedDir(dir: string, options: TrustOptions = {}): number | undefined {
  if (!runsAsRoot()) return undefined;
  if (!descriptorWalk) {
    assertTrusted(dir, options);
    return undefined;
  }
  const pending = path.resolve(dir).split(path.sep).filter(Boolean);
  let fd = fs.openSync(path.sep, DIR_FLAGS);
  let at: string = path.sep;
  let hops = 0;
  try {
    checkFd(fd, at, options);
    while (pending.length > 0) {
      const name = pending.shift()!;
      const next = path.join(at, name);
      let opened: number;
      try {
        opened = fs.openSync(atFd(fd, name), DIR_FLAGS);
      } catch (err) {
        if (errnoCode(err) !== "ELOOP" && errnoCode(err) !== "ENOTDIR") throw err;
        // A symlink: followed only when root owns it, from where it stands.
        const link = fs.lstatSync(atFd(fd, name));
        if (!link.isSymbolicLink()) throw err;
        const why = distrust(link);
        if (why) throw new ForeignOwnerError(next, why, options.action);
        if (++hops > 40) throw new ForeignOwnerError(next, "it is too many symlinks", options.action);
        const target = fs.readlinkSync(atFd(fd, name));
        pending.unshift(...target.split(path.sep).filter(Boolean));
        if (path.isAbsolute(target)) {
          fs.closeSync(fd);
          fd = fs.openSync(path.sep, DIR_FLAGS);
          at = path.sep;
        }
        continue;
      }
      fs.closeSync(fd);
      fd = opened;
      at = name === ".." ? path.dirname(at) : name === "." ? at : next;
      checkFd(fd, at, options);
    }
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

function checkFd(fd: number, at: string, options: TrustOptions): void {
  const info = fs.fstatSync(fd);
  const why = distrust(info);
  if (why) throw new ForeignOwnerError(at, why, options.action);
}
