/**
 * The JSON documents the gateway keeps per agent (`auth-profiles.json`, `auth-state.json`): reading them as
 * the gateway writes them (in place, so a parse failure may be a half-written file and is retried briefly),
 * writing them as it formats them, and keeping them private.
 */
import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { AuthSyncError, StoreError, errnoCode, messageOf } from "../../core/errors.js";
import { retry } from "../../core/retry.js";
import { assertTrusted } from "../../fs/trust.js";
import { isFolder } from "../../fs/identity.js";
import { fileKind, readRegularFile } from "../../fs/read-file.js";
import type { AuthProfileStore } from "../../types.js";
import type { UpdateOptions } from "../adapter.js";
import { agentsRoot, isInside } from "../discovery/agents.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, createFileAtomically, writeTarget } from "../../fs/atomic-write.js";

export const EMPTY_STORE: AuthProfileStore = { version: 1, profiles: {} };
export const MAX_STORE_BYTES = 16 * 1024 * 1024;
/** A folder we write in is checked with its last part followed: it may be a root-owned link, as /var/run is. */
const OWN_FOLDER = { followLast: true };

/** The gateway's own serialisation, so our writes diff cleanly against its writes. */
export function serializeJson(doc: object): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export type JsonDoc = Record<string, unknown>;

export function parseJsonDoc(text: string, file: string): JsonDoc {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    throw new StoreError(`${file} is not valid JSON; left untouched`, "invalid");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new StoreError(`${file} is not a JSON object; left untouched`, "invalid");
  return value as JsonDoc;
}

/** Undefined when the file does not exist. */
export async function readJsonDoc(file: string, attempts = 3): Promise<JsonDoc | undefined> {
  return retry(
    async () => {
      const text = await readStoreText(file);
      return text === undefined ? undefined : parseJsonDoc(text, file);
    },
    {
      retryable: (err) => err instanceof StoreError && err.problem === "invalid",
      delayMs: (attempt) => 50 * attempt,
      attempts,
    },
  );
}

async function readStoreText(file: string): Promise<string | undefined> {
  try {
    return await readRegularFile(file, { maxBytes: MAX_STORE_BYTES });
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw new StoreError(`${file} cannot be read: ${messageOf(err)}`, "unwritable");
  }
}

/** `auth-profiles.json` as an `AuthProfileStore`: it must have a `profiles` object, as the gateway requires. */
export function asProfileStore(doc: JsonDoc, file: string): AuthProfileStore {
  if (doc.profiles === undefined) return { ...doc, version: doc.version ?? 1, profiles: {} } as AuthProfileStore;
  if (typeof doc.profiles !== "object" || doc.profiles === null || Array.isArray(doc.profiles)) {
    throw new StoreError(`${file}: "profiles" is not an object; left untouched`, "invalid");
  }
  return doc as AuthProfileStore;
}

/** Where a missing store may be made: the state dir, and whether its agent folder may be made. */
export type StoreHome = Pick<UpdateOptions, "stateDir" | "makeAgentDir">;

/**
 * Makes the missing folders of `dir` below `stateDir`, one by one, and refuses a symlink or a non-folder at
 * any step, so nothing is ever created outside `<state>/agents/`. An agent dir elsewhere must exist, and so
 * must the folder of an agent that was found only on disk: gone, it was removed (`rm -rf` during a pass).
 */
async function makeAgentDir(dir: string, { stateDir, makeAgentDir: allowed }: StoreHome): Promise<void> {
  if (isFolder(dir)) return;
  if (allowed === false) throw new StoreError(`agent folder ${dir} was removed; not made again`, "unwritable");
  const root = stateDir && agentsRoot(stateDir);
  if (!root || !isInside(dir, root)) {
    const where = root ?? "the state dir's agents/";
    throw new StoreError(`agent folder ${dir} does not exist; it is outside ${where}, so it is not made`, "unwritable");
  }
  let at = stateDir;
  for (const part of path.relative(stateDir, dir).split(path.sep)) {
    at = path.join(at, part);
    assertTrusted(path.dirname(at), OWN_FOLDER);
    await mkdir(at, { mode: PRIVATE_DIR_MODE }).catch((err: unknown) => {
      if (errnoCode(err) !== "EEXIST") throw err;
    });
    const made = await lstat(at);
    if (!made.isDirectory()) {
      throw new StoreError(`${at} is ${fileKind(made)}, not a folder; nothing made in it`, "unwritable");
    }
  }
}

/**
 * Makes a missing store with its first content, in its agent folder (made as `makeAgentDir` allows); false
 * when another writer made it first. The gateway makes a missing store without its lock too
 * (`ensureAuthStoreFile`); unlike that, this never replaces one that appeared meanwhile.
 */
export async function createStoreFile(file: string, content: string, home: StoreHome): Promise<boolean> {
  try {
    await makeAgentDir(path.dirname(file), home);
    return await createFileAtomically(file, content);
  } catch (err) {
    throw notMade(file, err);
  }
}

/** A store that could not be made: our own one-line errors as they are, a system error as the folder's. */
function notMade(file: string, err: unknown): Error {
  if (err instanceof AuthSyncError) return err;
  return new StoreError(`agent folder ${path.dirname(file)} is not writable: ${messageOf(err)}`, "unwritable");
}

/** Creates a missing `auth-profiles.json` as the gateway's `ensureAuthStoreFile` does, since both locks need it. */
export async function ensureStoreFile(file: string, home: StoreHome): Promise<void> {
  const { stateDir } = home;
  // Nearly always the store is there: one lstat says so, and whether it may be written, before anything is made.
  if ((await writeTarget(file, stateDir).catch(() => undefined))?.existing) return;
  try {
    await makeAgentDir(path.dirname(file), home);
    assertTrusted(path.dirname(file), OWN_FOLDER);
    // O_EXCL never follows a symlink: a link planted at the name is EEXIST, and is judged at write time.
    const handle = await open(file, "wx", PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(serializeJson(EMPTY_STORE));
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    // A store that exists must be one we may write before its lock is taken: the gateway's lock sits
    // beside the link's target, which must not be made outside the state dir.
    if (errnoCode(err) === "EEXIST") return void (await writeTarget(file, stateDir));
    throw notMade(file, err);
  }
}

/**
 * A store readable by group or others leaks every agent's keys; fix it and say so. The mode is set on an
 * open descriptor of the very file a write would replace (a symlink only as `writeTarget` allows).
 */
export async function tightenMode(file: string, stateDir?: string): Promise<string[]> {
  const target = await writeTarget(file, stateDir).catch(() => undefined);
  const mode = target?.existing && target.existing.mode & 0o777;
  if (!target || mode === undefined || (mode & 0o077) === 0) return [];
  assertTrusted(path.dirname(target.path), OWN_FOLDER);
  const handle = await open(target.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) return [];
    await handle.chmod(PRIVATE_FILE_MODE);
  } finally {
    await handle.close();
  }
  return [`${file} was mode ${mode.toString(8).padStart(4, "0")}; set to 0600`];
}

/**
 * Temp files a killed writer of ours left: `<name>.<16 hex>.tmp` (atomic-write.ts), and `<name>.<number>`
 * from write-file-atomic, which older versions used. The gateway never makes such files.
 */
const TEMP_FILE = /^(auth-profiles|auth-state)\.json(\.[0-9a-f]{16}\.tmp|\.\d+)$/;
/** Older than this, a temp file's writer is gone (a write takes milliseconds): it was killed mid-write. */
const STALE_TEMP_MS = 10_000;

/** Removes temp files that a killed writer of ours left behind; returns their names. */
export async function removeStaleTempFiles(agentDir: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(agentDir).catch(() => [] as string[])) {
    if (!TEMP_FILE.test(name)) continue;
    const file = path.join(agentDir, name);
    // lstat: a symlink planted at such a name is removed itself, never its target.
    const mtime = await lstat(file).then(
      (s) => s.mtimeMs,
      () => now,
    );
    if (now - mtime < STALE_TEMP_MS) continue;
    await rm(file, { force: true });
    removed.push(name);
  }
  return removed;
}
