/**
 * The gateway's SQLite lock folder (`/tmp/openclaw-state-locks-<uid>`). /tmp is everyone's, so any local user can
 * make that folder first; the gateway and we then refuse it (rightly: its owner could swap the lock files) and no
 * SQLite write happens, for good. `status` and `doctor` say who owns it and the command that clears it.
 */
import { lstat } from "node:fs/promises";
import { userName } from "../../core/process-identity.js";
import { shellQuote } from "../../core/terminal-text.js";
import { lockDirectory } from "./lifecycle-lock.js";

export interface LockFolderProblem {
  dir: string;
  /** What is wrong, naming the owner: "is owned by nobody (uid 65534), not root (uid 0)". */
  detail: string;
  /** The exact command to paste, and who must run it. */
  fix: string;
}

/** Undefined when the folder is missing (it is made the gateway's way when needed) or as the gateway insists. */
export async function lockFolderProblem(
  uid = process.getuid?.(),
  dir = lockDirectory(uid),
): Promise<LockFolderProblem | undefined> {
  if (uid === undefined) return undefined;
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return undefined;
  const owner = userName(info.uid);
  // In sticky /tmp only its owner or root can remove it; nothing uses it while it is refused.
  const sudo = uid === 0 || info.uid === uid ? "" : "sudo ";
  const again = "the gateway and the daemon make it again, theirs and private";
  const fix = `${sudo}rm -r -- ${shellQuote(dir)}   (as root; ${again})`;
  const refused = "so every SQLite write is refused";
  if (info.isSymbolicLink() || !info.isDirectory()) {
    return { dir, detail: `${dir} is not a real folder (owned by ${owner}), ${refused}`, fix };
  }
  if (info.uid !== uid) {
    return { dir, detail: `${dir} is owned by ${owner}, not ${userName(uid)}, ${refused}`, fix };
  }
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
    return { dir, detail: `${dir} is not private (mode ${mode}), ${refused}`, fix: `chmod 700 -- ${shellQuote(dir)}` };
  }
  return undefined;
}
