/**
 * Before this host's first refresh as leader, its `claude` must hold the fleet's newest credentials, or it would
 * refresh with a token another host has already spent and log every host out. So the newest `claudeAiOauth` is
 * written into claude's own `.credentials.json` as claude itself writes it: under claude's lock on its config dir
 * (proper-lockfile's `<configDir>.lock`, which every Claude Code since 2.x takes around a refresh and a save), read
 * again inside the lock, only when what it holds is older, every other key of the file kept, replaced atomically
 * at mode 0600. The refresh token is never written anywhere else.
 */
import { mkdir } from "node:fs/promises";
import lockfile from "proper-lockfile";
import { errnoCode } from "../core/errors.js";
import { PRIVATE_DIR_MODE, writeFileAtomically } from "../fs/atomic-write.js";
import { readRegularFile } from "../fs/read-file.js";
import { credentialsPath } from "../sources/claude-cli-file.js";

/** claude's own lock options: a lock older than this is taken over (its holder died). */
const CLAUDE_LOCK_STALE_MS = 10_000;
const CLAUDE_LOCK_RETRIES = { retries: 20, minTimeout: 100, maxTimeout: 1_000, factor: 1.5 };

export type HandoverResult = "installed" | "already-newer";

/** The file's `claudeAiOauth` as it is (every field, for sealing), or undefined when it holds none. */
export async function readClaudeOauth(configDir: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readRegularFile(credentialsPath(configDir));
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
  const json = JSON.parse(text) as { claudeAiOauth?: unknown };
  const oauth = json?.claudeAiOauth;
  return oauth && typeof oauth === "object" && !Array.isArray(oauth) ? (oauth as Record<string, unknown>) : undefined;
}

/** Writes `oauth` into claude's file unless the file already holds credentials expiring as late or later. */
export async function installClaudeOauth(configDir: string, oauth: Record<string, unknown>): Promise<HandoverResult> {
  const file = credentialsPath(configDir);
  await mkdir(configDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const release = await lockfile.lock(configDir, {
    lockfilePath: `${configDir.replace(/\/+$/, "")}.lock`,
    realpath: false,
    stale: CLAUDE_LOCK_STALE_MS,
    retries: CLAUDE_LOCK_RETRIES,
  });
  try {
    let current: Record<string, unknown> = {};
    try {
      current = JSON.parse(await readRegularFile(file)) as Record<string, unknown>;
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
    const held = current.claudeAiOauth as { expiresAt?: unknown } | undefined;
    const heldExpiry = typeof held?.expiresAt === "number" ? held.expiresAt : 0;
    if (heldExpiry >= (oauth.expiresAt as number)) return "already-newer";
    await writeFileAtomically(file, JSON.stringify({ ...current, claudeAiOauth: oauth }));
    return "installed";
  } finally {
    await release();
  }
}
