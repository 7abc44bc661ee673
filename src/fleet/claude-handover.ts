/**
 * Before this host's first refresh as leader, its `claude` must hold the fleet's newest credentials, or it would
 * refresh with a token another host has already spent and log every host out. So the newest `claudeAiOauth` goes
 * into claude's own `.credentials.json` as claude itself writes it (read from the Claude Code 2.1.332 binary and
 * checked against it running; docs/fleet.md):
 *   1. claude's refresh lock `<dir>/.oauth_refresh.lock`, then its older lock `realpath(<dir>).lock` beside the
 *      folder, in claude's order: a claude about to refresh waits for us, and, finding a new token under the
 *      lock, uses it instead of refreshing. Both are mkdir locks, stale after 60 s by their mtime (renewed every 5 s
 *      while held). No owner record is written, so claude never takes them over early;
 *   2. `<dir>/.storage-write.lock` (stale after 15 s) around the read and the write only;
 *   3. the file read again inside them: nothing is written when it holds the same refresh token or one expiring as
 *      late or later; otherwise only `claudeAiOauth` is replaced, every other key kept, atomically at 0600.
 * The refresh token is never written anywhere else.
 */
import { mkdir, realpath } from "node:fs/promises";
import path from "node:path";
import lockfile from "proper-lockfile";
import { errnoCode } from "../core/errors.js";
import { PRIVATE_DIR_MODE, writeFileAtomically } from "../fs/atomic-write.js";
import { readRegularFile } from "../fs/read-file.js";
import { credentialsPath } from "../sources/claude-cli-file.js";

/** claude's own lock timings (2.1.332): the refresh locks, and the write lock. */
const REFRESH_LOCK = { stale: 60_000, update: 5_000 };
const WRITE_LOCK = { stale: 15_000, update: 7_500 };
/** A held lock is tried again for about half a minute: a claude refreshing holds it for a second or two. */
const RETRIES = { retries: 40, minTimeout: 100, maxTimeout: 1_000, factor: 1.3 };

export type HandoverResult = "installed" | "already-newer";

/** The file's `claudeAiOauth` as it is (every field, for sealing), or undefined when it holds none. */
export async function readClaudeOauth(configDir: string): Promise<Record<string, unknown> | undefined> {
  const current = await readCredentialsFile(configDir);
  const oauth = current?.claudeAiOauth;
  return oauth && typeof oauth === "object" && !Array.isArray(oauth) ? (oauth as Record<string, unknown>) : undefined;
}

async function readCredentialsFile(configDir: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readRegularFile(credentialsPath(configDir));
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
  const json = JSON.parse(text) as unknown;
  return json && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
}

/**
 * One of claude's mkdir locks, `<name>.lock`, taken as claude takes it; resolves to its release. Each is named by
 * its own path: proper-lockfile keeps one lock per name in a process.
 */
function take(name: string, timing: { stale: number; update: number }) {
  let compromised: Error | undefined;
  return lockfile
    .lock(name, {
      realpath: false,
      ...timing,
      retries: RETRIES,
      // Our hold lasts milliseconds; a lock taken from us meanwhile fails the write instead of the process.
      onCompromised: (err) => (compromised = err),
    })
    .then((release) => ({ release, compromised: () => compromised }));
}

/** Writes `oauth` into claude's file unless the file already holds these credentials or newer ones. */
export async function installClaudeOauth(configDir: string, oauth: Record<string, unknown>): Promise<HandoverResult> {
  await mkdir(configDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const dir = await realpath(configDir);
  const held = [];
  try {
    held.push(await take(path.join(dir, ".oauth_refresh"), REFRESH_LOCK));
    held.push(await take(dir, REFRESH_LOCK));
    held.push(await take(path.join(dir, ".storage-write"), WRITE_LOCK));
    const current = (await readCredentialsFile(dir)) ?? {};
    const file = current.claudeAiOauth as { expiresAt?: unknown; refreshToken?: unknown } | undefined;
    const heldExpiry = typeof file?.expiresAt === "number" ? file.expiresAt : 0;
    if (file?.refreshToken === oauth.refreshToken || heldExpiry >= (oauth.expiresAt as number)) return "already-newer";
    const lost = held.find((lock) => lock.compromised());
    if (lost) throw lost.compromised()!;
    await writeFileAtomically(credentialsPath(dir), JSON.stringify({ ...current, claudeAiOauth: oauth }));
    return "installed";
  } finally {
    for (const lock of held.reverse()) await lock.release().catch(() => undefined);
  }
}
