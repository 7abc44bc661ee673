/**
 * The JSON documents the gateway keeps per agent (`auth-profiles.json`, `auth-state.json`): reading them as
 * the gateway writes them (in place, so a parse failure may be a half-written file and is retried briefly),
 * writing them as it formats them, and keeping them private.
 */
import { chmod, mkdir, open, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StoreError, errnoCode, messageOf } from "../errors.js";
import { readSmallFile } from "../sources/read-small-file.js";
import type { AuthProfileStore } from "../types.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "./atomic-write.js";

export const EMPTY_STORE: AuthProfileStore = { version: 1, profiles: {} };
const MAX_STORE_BYTES = 16 * 1024 * 1024;

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
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new StoreError(`${file} is not a JSON object; left untouched`, "invalid");
  return value as JsonDoc;
}

/** Undefined when the file does not exist. */
export async function readJsonDoc(file: string, attempts = 3): Promise<JsonDoc | undefined> {
  for (let attempt = 1; ; attempt++) {
    let text: string;
    try {
      text = await readSmallFile(file, MAX_STORE_BYTES);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw new StoreError(`${file} cannot be read: ${messageOf(err)}`, "unwritable");
    }
    try {
      return parseJsonDoc(text, file);
    } catch (err) {
      if (attempt >= attempts) throw err;
      await sleep(50 * attempt);
    }
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

/** Creates a missing `auth-profiles.json` as the gateway's `ensureAuthStoreFile` does, since both locks need it. */
export async function ensureStoreFile(file: string): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    const handle = await open(file, "wx", PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(serializeJson(EMPTY_STORE));
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return;
    throw new StoreError(`agent folder ${path.dirname(file)} is not writable: ${messageOf(err)}`, "unwritable");
  }
}

/** A store readable by group or others leaks every agent's keys; fix it and say so. */
export async function tightenMode(file: string): Promise<string[]> {
  const mode = await stat(file).then((s) => s.mode & 0o777, () => undefined);
  if (mode === undefined || (mode & 0o077) === 0) return [];
  await chmod(file, PRIVATE_FILE_MODE);
  return [`${file} was mode ${mode.toString(8).padStart(4, "0")}; set to 0600`];
}

/** write-file-atomic names its temp file `<name>.<number>`; the gateway never makes such files. */
const TEMP_FILE = /^(auth-profiles|auth-state)\.json\.\d+$/;
/** Older than this, a temp file's writer is gone (a write takes milliseconds): it was killed mid-write. */
const STALE_TEMP_MS = 10_000;

/** Removes temp files that a killed writer of ours left behind; returns their names. */
export async function removeStaleTempFiles(agentDir: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(agentDir).catch(() => [] as string[])) {
    if (!TEMP_FILE.test(name)) continue;
    const file = path.join(agentDir, name);
    const mtime = await stat(file).then((s) => s.mtimeMs, () => now);
    if (now - mtime < STALE_TEMP_MS) continue;
    await rm(file, { force: true });
    removed.push(name);
  }
  return removed;
}
