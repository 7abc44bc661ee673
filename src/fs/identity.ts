/**
 * Which file a name holds: device, inode and birth time, as the gateway tells its lock files apart
 * (`readCoordinatorIdentity`). A lock removed and made again by another process has another identity, even
 * when the inode number is reused.
 */
import { type BigIntStats, lstatSync, realpathSync, statSync } from "node:fs";
import path from "node:path";

export const identityOf = (s: BigIntStats) => `${s.dev}:${s.ino}:${s.birthtimeNs}`;

/** The identity of what `file` names now (a symlink itself, never its target); undefined when nothing. */
export function fileIdentity(file: string): string | undefined {
  try {
    return identityOf(lstatSync(file, { bigint: true }));
  } catch {
    return undefined;
  }
}

/**
 * What `file` names once every symlink is followed, as the gateway resolves a lock's path; when that cannot be
 * known (not there yet, a loop, no permission), `file` made absolute.
 */
export function realPath(file: string): string {
  try {
    return realpathSync.native(path.resolve(file));
  } catch {
    return path.resolve(file);
  }
}

/** Whether `dir` names a folder, through symlinks; false when nothing is there or it cannot be looked at. */
export function isFolder(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
