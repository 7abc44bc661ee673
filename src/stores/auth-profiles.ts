/**
 * Store adapter for the gateway's `auth-profiles.json` (JSON v1, usageStats inline).
 * Every change is lock → re-read → pure change → atomic write → unlock, so it interleaves safely with
 * the gateway's own locked writers; unknown keys survive because we edit the parsed document itself.
 */
import { chmod, mkdir, open, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StoreError, errnoCode, messageOf } from "../errors.js";
import type { AuthProfileStore } from "../types.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, writeFileAtomically } from "./atomic-write.js";
import { withStoreLock } from "./lock.js";
import { readSmallFile } from "../sources/read-small-file.js";

export const EMPTY_STORE_TEXT = `${JSON.stringify({ version: 1, profiles: {} }, null, 2)}\n`;

/** The gateway's own serialisation, so our writes diff cleanly against its writes. */
export function serializeStore(store: AuthProfileStore): string {
  return `${JSON.stringify(store, null, 2)}\n`;
}

export function parseStore(text: string, file: string): AuthProfileStore {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    throw new StoreError(`${file} is not valid JSON; left untouched`, "invalid");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new StoreError(`${file} is not a JSON object; left untouched`, "invalid");
  const store = value as Record<string, unknown>;
  if (store.profiles === undefined) return { ...store, version: store.version ?? 1, profiles: {} } as AuthProfileStore;
  if (typeof store.profiles !== "object" || store.profiles === null || Array.isArray(store.profiles)) {
    throw new StoreError(`${file}: "profiles" is not an object; left untouched`, "invalid");
  }
  return store as AuthProfileStore;
}

/** Undefined when the file does not exist. The gateway writes in place, so a parse failure is retried briefly. */
export async function readStore(file: string, attempts = 3): Promise<AuthProfileStore | undefined> {
  for (let attempt = 1; ; attempt++) {
    let text: string;
    try {
      text = await readSmallFile(file, 16 * 1024 * 1024);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw new StoreError(`${file} cannot be read: ${messageOf(err)}`, "unwritable");
    }
    try {
      return parseStore(text, file);
    } catch (err) {
      if (attempt >= attempts) throw err;
      await sleep(50 * attempt);
    }
  }
}

export interface StoreChange<T> {
  /** The store to write; return the input object itself for "no change". */
  next: AuthProfileStore;
  outcome: T;
}

export interface UpdateOptions {
  lockRetries: number;
  dryRun?: boolean;
}

export interface UpdateResult<T> {
  outcome: T;
  written: boolean;
  /** Exact bytes written, so a watcher can recognise the event caused by our own write. */
  content?: string;
  warnings: string[];
}

/**
 * Applies `change` to the store at `file` under the gateway's lock. A missing store is created first
 * (as the gateway's `ensureAuthStoreFile` does), since the lock needs the file to exist.
 */
export async function updateStore<T>(file: string, change: (store: AuthProfileStore) => StoreChange<T>, options: UpdateOptions): Promise<UpdateResult<T>> {
  if (options.dryRun) {
    const current = (await readStore(file)) ?? parseStore(EMPTY_STORE_TEXT, file);
    const { next, outcome } = change(current);
    return { outcome, written: false, warnings: next === current ? [] : ["dry run: nothing written"] };
  }
  // Most passes change nothing: decide on an unlocked read first, and take the lock only to write.
  // The decision is made again on the re-read inside the lock, so a concurrent writer is never lost.
  const peek = await readStore(file, 1).catch(() => undefined);
  if (peek) {
    const { next, outcome } = change(peek);
    if (next === peek) return { outcome, written: false, warnings: await tightenMode(file) };
  }
  await ensureStoreFile(file);
  return withStoreLock(file, options.lockRetries, async (compromised) => {
    const warnings = await tightenMode(file);
    const current = (await readStore(file)) ?? parseStore(EMPTY_STORE_TEXT, file);
    const { next, outcome } = change(current);
    if (next === current) return { outcome, written: false, warnings };
    if (compromised.aborted) throw new StoreError(`${file}: lock was taken over as stale; nothing written`, "locked");
    const content = serializeStore(next);
    try {
      await writeFileAtomically(file, content);
    } catch (err) {
      throw new StoreError(`${file} cannot be written: ${messageOf(err)}`, "unwritable");
    }
    return { outcome, written: true, content, warnings };
  });
}

async function ensureStoreFile(file: string): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    const handle = await open(file, "wx", PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(EMPTY_STORE_TEXT);
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
async function tightenMode(file: string): Promise<string[]> {
  const mode = (await stat(file)).mode & 0o777;
  if ((mode & 0o077) === 0) return [];
  await chmod(file, PRIVATE_FILE_MODE);
  return [`${file} was mode ${mode.toString(8).padStart(4, "0")}; set to 0600`];
}
