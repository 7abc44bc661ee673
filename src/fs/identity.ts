/**
 * Which file a name holds: device, inode and birth time, as the gateway tells its lock files apart
 * (`readCoordinatorIdentity`). A lock removed and made again by another process has another identity, even
 * when the inode number is reused.
 */
import { type BigIntStats, lstatSync } from "node:fs";

export const identityOf = (s: BigIntStats) => `${s.dev}:${s.ino}:${s.birthtimeNs}`;

/** The identity of what `file` names now (a symlink itself, never its target); undefined when nothing. */
export function fileIdentity(file: string): string | undefined {
  try {
    return identityOf(lstatSync(file, { bigint: true }));
  } catch {
    return undefined;
  }
}
