/**
 * Root must never write into a tree another user owns: that user could plant a symlink or swap a folder
 * between our check and our write, and so make root rewrite any file on the host. Such a tree is written by
 * its owner: `service install --system USER` runs the daemon as USER.
 */
import { statSync } from "node:fs";
import { stat } from "node:fs/promises";
import { AuthSyncError } from "../core/errors.js";

export class ForeignOwnerError extends AuthSyncError {
  constructor(dir: string, uid: number) {
    super(
      `refusing to write in ${dir} as root: it belongs to uid ${uid}; run as that user ` +
        "(sudo -u USER moltbot-auth-sync …, or `service install --system USER`, which runs the daemon as USER)",
      "store.foreign_owner",
    );
  }
}

/** Throws when we run as root and `dir` (the folder a write lands in) is owned by another user. */
export async function assertOwnFolder(dir: string): Promise<void> {
  if (process.geteuid?.() !== 0) return;
  refuseForeign(dir, (await stat(dir)).uid);
}

/** assertOwnFolder, for a write that must not await (the lock journal's notes). */
export function assertOwnFolderSync(dir: string): void {
  if (process.geteuid?.() !== 0) return;
  refuseForeign(dir, statSync(dir).uid);
}

function refuseForeign(dir: string, owner: number): void {
  if (owner !== 0) throw new ForeignOwnerError(dir, owner);
}
