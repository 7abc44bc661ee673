/**
 * The one locked read-modify-write of every store adapter. An adapter only describes its documents (how to
 * read them, the gateway's view of them, what to write for a next view) and the parts that one lock covers;
 * this file runs the steps, in this order, for all of them:
 *   peek: an unlocked read, the pure change applied; nothing changes, no lock is taken (most passes);
 *   dry run: the outcome, nothing locked or written;
 *   a store that does not exist yet, where the era allows it: made whole without a lock, as the gateway makes
 *   one, unless another writer made it meanwhile (then the steps below run);
 *   for each part the change writes, one at a time: take its lock (the gateway's, with its retries), re-read
 *   inside it, apply the pure change again (so a concurrent writer is never lost), abort if the lock was taken
 *   over (nothing written), announce the write (`beforeWrite`, before any rename), write what changed,
 *   release; the lock is noted in the journal while held where its kind needs it (locks/lock.ts).
 */
import { StoreError } from "../core/errors.js";
import type { AuthProfileStore } from "../types.js";
import type { FileWrite, StoreChange, UpdateOptions, UpdateResult } from "./adapter.js";
import { type HeldLock, type StoreLock, withLock } from "./locks/lock.js";

/** What one part writes: its files' exact bytes (none for database cells), and the write itself. */
export interface PlannedWrite {
  files: FileWrite[];
  commit(): Promise<void>;
}

/** The files, or the database, that one lock covers, and how they are read and written under it. */
export interface StorePart<D, H extends HeldLock> {
  /** Named in messages. */
  name: string;
  /** Before locking: makes what the lock needs (the store file), refuses what must not be written. */
  prepare?(): Promise<void>;
  lock: StoreLock<H>;
  /** First thing inside the lock: fixes the files (a mode too open) and says so. */
  tidy?(): Promise<string[]>;
  read(held: H): Promise<D>;
  /** What this part writes for `next`; undefined when nothing of its own changes. */
  plan(held: H, docs: D, view: AuthProfileStore, next: AuthProfileStore): PlannedWrite | undefined;
}

/** The change decided on the peek. */
export interface Peeked<D> {
  docs: D;
  view: AuthProfileStore;
  next: AuthProfileStore;
}

export interface TransactionalStore<D, H extends HeldLock> {
  agentDir: string;
  /** The unlocked read; undefined when only the locked read can say (a half-written file is retried there). */
  peek(): Promise<{ docs: D } | undefined>;
  /** The unlocked read with every retry, for a dry run the peek could not decide. */
  read(): Promise<D>;
  /** The gateway's view of the documents; a missing store is the empty one. */
  view(docs: D): AuthProfileStore;
  /** Warnings for a store left unchanged (a mode too open, fixed). */
  tidy?(): Promise<string[]>;
  /**
   * Where no lock can be held on a store that does not exist (the lock needs the file), the store the change
   * makes of a missing one: its files (undefined when the store exists or this is not such an era), and their
   * creation, false when another writer made the store first.
   */
  create?: { plan(peeked: Peeked<D>): FileWrite[] | undefined; make(files: FileWrite[]): Promise<boolean> };
  /** The parts to lock and write, in order; `peeked` is undefined when the peek could not decide. */
  parts(peeked: Peeked<D> | undefined): Promise<Array<StorePart<D, H>>>;
}

export async function runTransaction<D, H extends HeldLock, T>(
  store: TransactionalStore<D, H>,
  change: (store: AuthProfileStore) => StoreChange<T>,
  options: UpdateOptions,
): Promise<UpdateResult<T>> {
  const peek = await store.peek();
  const view = peek && store.view(peek.docs);
  const peeked = peek && view && { docs: peek.docs, view, ...change(view) };
  if (peeked && peeked.next === view) {
    const warnings = options.dryRun || !store.tidy ? [] : await store.tidy();
    return { outcome: peeked.outcome, writes: [], warnings };
  }
  if (options.dryRun) {
    const outcome = peeked ? peeked.outcome : change(store.view(await store.read())).outcome;
    return { outcome, writes: [], warnings: [] };
  }
  const created = peeked && store.create?.plan(peeked);
  if (created) {
    options.beforeWrite?.({ agentDir: store.agentDir, writes: created, store: peeked.next });
    if (await store.create!.make(created)) return { outcome: peeked.outcome, writes: created, warnings: [] };
  }
  const result: Partial<UpdateResult<T>> & Omit<UpdateResult<T>, "outcome"> = { writes: [], warnings: [] };
  if (peeked) result.outcome = peeked.outcome;
  // With several parts, the outcome told is that of the last part written, else that of the last part.
  let wrote = false;
  for (const part of await store.parts(peeked)) {
    await part.prepare?.();
    const step = await withLock(
      part.lock,
      async (held) => {
        if (part.tidy) result.warnings.push(...(await part.tidy()));
        const docs = await part.read(held);
        const view = store.view(docs);
        const { next, outcome } = change(view);
        const planned = next === view ? undefined : part.plan(held, docs, view, next);
        if (!planned) return { outcome, wrote: false };
        const lost = await held.lost();
        if (lost) throw new StoreError(`${part.name}: ${lost}; nothing written`, "locked");
        options.beforeWrite?.({ agentDir: store.agentDir, writes: planned.files, store: next });
        await planned.commit();
        result.writes.push(...planned.files);
        return { outcome, wrote: true };
      },
      options.lockJournal,
    );
    if (!wrote || step.wrote) result.outcome = step.outcome;
    wrote ||= step.wrote;
  }
  return result as UpdateResult<T>;
}
