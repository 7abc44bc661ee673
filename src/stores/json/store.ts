/**
 * What the two JSON eras (json-v1/, split/) share as a transactional store (../transaction.ts): the agent's
 * JSON documents under one lock on `auth-profiles.json`, which is created first when missing (both locks need
 * it) or, where the format allows, made whole at once without the lock; each changed document replaced
 * atomically, and modes too open fixed. A format only says how it reads its documents, how the gateway sees
 * them, what to write for a next view, and which lock the gateway takes.
 */
import path from "node:path";
import { StoreError, messageOf } from "../../core/errors.js";
import { writeFileAtomically } from "../../fs/atomic-write.js";
import type { AuthProfileStore } from "../../types.js";
import type { FileWrite, StoreChange, UpdateOptions, UpdateResult } from "../adapter.js";
import { AUTH_PROFILES_FILENAME } from "../discovery/agents.js";
import { EMPTY_STORE, createStoreFile, ensureStoreFile, tightenMode } from "./file.js";
import type { HeldLock, StoreLock } from "../locks/lock.js";
import { type Peeked, runTransaction } from "../transaction.js";

export interface JsonFormat<D> {
  /** Every file of the store, `auth-profiles.json` first. */
  files(agentDir: string): string[];
  /** Undefined files are missing; a parse failure is retried `attempts` times (the gateway writes in place). */
  read(agentDir: string, attempts?: number): Promise<D>;
  /** The gateway's view; undefined when the store does not exist. */
  view(docs: D): AuthProfileStore | undefined;
  /** The documents to write so that the gateway sees `next`; only those that change. */
  writes(agentDir: string, docs: D, view: AuthProfileStore, next: AuthProfileStore): FileWrite[];
  lock(file: string, timeoutMs: number): StoreLock<HeldLock>;
  /**
   * Whether `docs` are of a store that does not exist, in an era whose lock needs the store file (so nobody
   * can hold it on a missing store): such a store is made whole without the lock, as the gateway makes it.
   */
  createsUnlocked?(docs: D): boolean;
}

export function updateJsonStore<D, T>(
  format: JsonFormat<D>,
  agentDir: string,
  change: (store: AuthProfileStore) => StoreChange<T>,
  options: UpdateOptions,
): Promise<UpdateResult<T>> {
  const profilesFile = path.join(agentDir, AUTH_PROFILES_FILENAME);
  const view = (docs: D) => format.view(docs) ?? EMPTY_STORE;
  const tidy = async (files: string[]) => {
    const warnings: string[] = [];
    for (const file of files) warnings.push(...(await tightenMode(file, options.stateDir)));
    return warnings;
  };
  return runTransaction(
    {
      agentDir,
      // A failed peek (a half-written file, most likely) is decided again inside the lock, with retries.
      peek: () =>
        format.read(agentDir, 1).then(
          (docs) => ({ docs }),
          () => undefined,
        ),
      read: () => format.read(agentDir),
      view,
      tidy: () => tidy([profilesFile]),
      create: format.createsUnlocked && {
        plan: ({ docs, view, next }: Peeked<D>) => {
          if (!format.createsUnlocked!(docs)) return undefined;
          const files = format.writes(agentDir, docs, view, next);
          return files.length === 1 && files[0]!.file === profilesFile ? files : undefined;
        },
        make: ([file]: FileWrite[]) => createStoreFile(file!.file, file!.content, options),
      },
      parts: () =>
        Promise.resolve([
          {
            name: profilesFile,
            prepare: () => ensureStoreFile(profilesFile, options),
            lock: format.lock(profilesFile, options.lockTimeoutMs),
            tidy: () => tidy(format.files(agentDir)),
            read: () => format.read(agentDir),
            plan: (_held: HeldLock, docs: D, before: AuthProfileStore, next: AuthProfileStore) => {
              const files = format.writes(agentDir, docs, before, next);
              return files.length ? { files, commit: () => writeAll(files, options.stateDir) } : undefined;
            },
          },
        ]),
    },
    change,
    options,
  );
}

async function writeAll(files: FileWrite[], symlinkRoot: string | undefined): Promise<void> {
  for (const { file, content } of files) {
    try {
      await writeFileAtomically(file, content, { symlinkRoot });
    } catch (err) {
      throw new StoreError(`${file} cannot be written: ${messageOf(err)}`, "unwritable");
    }
  }
}
