/**
 * Root must never write into a tree another user owns: that user could plant a symlink or swap a folder
 * between our check and our write, and so make root rewrite any file on the host. Such a tree is written by
 * its owner: `service install --system USER` runs the daemon as USER.
 */
import { AuthSyncError } from "../core/errors.js";
import { assertTrusted } from "./trust.js";

export class ForeignOwnerError extends AuthSyncError {
  constructor(dir: string, uid: number, action = "write in", what?: string) {
    const why = what ? (what.startsWith("it ") ? what : `it is ${what}`) : `it belongs to uid ${uid}`;
    super(
      `refusing to ${action} ${dir} as root: ${why}; run as that user ` +
        "(sudo -u USER moltbot-auth-sync …, or `service install --system USER`, which runs the daemon as USER)",
      "store.foreign_owner",
    );
  }
}

/**
 * Throws when we run as root and `dir` (the folder a write lands in), or any folder above it, is owned by
 * another user (trust.ts holds the rule).
 */
export async function assertOwnFolder(dir: string): Promise<void> {
  return Promise.resolve().then(() => assertOwnFolderSync(dir));
}

/** assertOwnFolder, for a write that must not await (the lock journal's notes). */
export function assertOwnFolderSync(dir: string): void {
  assertTrusted(dir, { followLast: true });
}
