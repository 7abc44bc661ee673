/**
 * One interface for every generation of the gateway's store. Reconcile works on the store as the gateway
 * sees it (`AuthProfileStore`); an adapter reads that view from its files and writes each change back to
 * the file the gateway reads it from, under the lock that gateway takes.
 */
import type { UsageRules } from "../reconcile/cooldown.js";
import type { AuthProfileStore } from "../types.js";
import type { Check } from "./check.js";
import type { GatewayInstall } from "./discovery/gateway.js";
import type { StoreFormat } from "./discovery/generation.js";

export interface StoreChange<T> {
  /** The store to write; the input object itself for "no change". */
  next: AuthProfileStore;
  outcome: T;
}

export interface UpdateOptions {
  /** How long to wait for a held store lock: past the 30 s stale time, so a dead holder's lock is taken over. */
  lockTimeoutMs: number;
  dryRun?: boolean;
  /** Folder where held locks are noted, so our next start can remove one a crash left (locks/journal.ts). */
  lockJournal?: string;
  /**
   * The gateway state dir of the agent: a missing agent dir is made only under its `agents/`, and a store
   * that is a symlink is written only when it points inside it. Without it, nothing is made and no
   * symlink is followed.
   */
  stateDir?: string;
  /** False when a missing agent folder must not be made (an agent not `named`: it was removed). */
  makeAgentDir?: boolean;
  /** Told what is about to be written, before the rename: a watcher then never takes our write for another's. */
  beforeWrite?: (intent: WriteIntent) => void;
}

/** A file written, with its exact bytes. A database's cells are no file: a SQLite write has none. */
export interface FileWrite {
  file: string;
  content: string;
}

export interface WriteIntent {
  agentDir: string;
  writes: FileWrite[];
  /** The store as the gateway will see it once written. */
  store: AuthProfileStore;
}

export interface UpdateResult<T> {
  outcome: T;
  /** Every file written, with its exact bytes, so a watcher can recognise the events of our own writes. */
  writes: FileWrite[];
  warnings: string[];
}

/** `login` for a credential written (as the gateway's `paste-token`), `update` for usage stats (as `order set`). */
export type ReloadOperation = "login" | "logout" | "update";

/** An agent whose store was written, for the running gateway to re-read. */
export interface ReloadRequest {
  agentId: string;
  operation: ReloadOperation;
}

/** What came of telling the gateway of the state dir `dir`. */
export type GatewayReload = { dir: string } & (
  | /** The running gateway re-read the stores of `agents`. */
    { result: "reloaded"; agents: string[] }
    /** No gateway runs at the address (or the configured one runs on another host): nothing to tell. */
  | { result: "not-running" }
  /**
   * A gateway runs but has not re-read our writes of `agents`; `reason` is one line without secrets. `owner`
   * names that gateway process (gateway-instance.ts), when it could be read, so a later look can tell whether it
   * still runs.
   */
  | { result: "not-reloaded"; agents: string[]; reason: string; owner?: string }
);

export interface StoreAdapter {
  readonly format: StoreFormat;
  /** This generation's cooldown rules (reconcile/cooldown-json.ts or cooldown-sqlite.ts). */
  readonly usage: UsageRules;
  /**
   * Whether this generation's gateway leaves refresh fences in its profiles (reconcile/fence.ts): only then does a
   * pass look through every profile for one to recover. Every generation leaves a pending fence alone.
   */
  readonly refreshFences?: boolean;
  /** The gateway's view: credentials and runtime state merged as that gateway merges them. */
  read(agentDir: string): Promise<AuthProfileStore | undefined>;
  /** Lock, re-read, apply the pure `change`, write what changed where the gateway reads it, unlock (transaction.ts). */
  update<T>(
    agentDir: string,
    change: (store: AuthProfileStore) => StoreChange<T>,
    options: UpdateOptions,
  ): Promise<UpdateResult<T>>;
  /** Why this generation never takes `profile` under `profileId` (sync reports every agent skipped), if it does not. */
  admit?(profileId: string, profile: Record<string, unknown>): string | undefined;
  /** The files of one agent dir that this adapter reads. */
  files(agentDir: string): string[];
  /**
   * Tells a running gateway to re-read what was written for these agents, where it keeps its stores in memory
   * (the SQLite era). Absent where the gateway sees our writes by itself (the JSON eras re-read their files).
   * Never throws: a gateway that could not be told is a result.
   */
  reload?(requests: readonly ReloadRequest[]): Promise<GatewayReload>;
  /**
   * Runs `work`, keeping what this adapter opens across the calls made inside it (the SQLite era's connections:
   * a pass reads the shared database once per agent) and closing it when `work` ends. Outside a session each
   * call holds nothing once it returns. Absent where there is nothing to keep.
   */
  session?<T>(work: () => Promise<T>): Promise<T>;
}

/** Runs `work` inside every adapter's session (StoreAdapter.session), the same adapter once. */
export function inSessions<T>(adapters: Iterable<StoreAdapter>, work: () => Promise<T>): Promise<T> {
  const [first, ...rest] = new Set(adapters);
  if (!first) return work();
  const next = () => inSessions(rest, work);
  return first.session ? first.session(next) : next();
}

/**
 * The files of a state dir that hold a generation's stores, for the daemon to watch. A state dir changes
 * generation under a running daemon (a gateway upgraded, `openclaw doctor --fix`), so it watches every
 * generation's files at once.
 */
export interface WatchedFiles {
  /** Names in an agent dir. */
  agentFiles: readonly string[];
  /** Paths below the state dir, `/`-separated, of a store every agent reads. */
  sharedFiles: readonly string[];
  /** Of both, the ones whose event counts only while the file holds something (see the SQLite generation's). */
  logs: readonly string[];
}

/** What a killed run of ours leaves in a generation's stores, and how each kind is cleared or named. */
export interface Leftovers {
  /** Removes the store locks the lock journal notes whose holder died (at our next start); the locks removed. */
  locks?: (journal: string) => Promise<string[]>;
  /** Removes the temp files a killed writer of ours left in an agent dir; their names. */
  tempFiles?: (agentDir: string) => Promise<string[]>;
  /** `doctor`'s warnings for the store locks in an agent dir older than the gateway's stale time. */
  staleLocks?: (agentDir: string, now: number) => Promise<Check[]>;
}

/**
 * A generation of the gateway's store as a whole: its adapter, and what the rest of the program must know of its
 * files without opening them. One folder of `stores/` each; adapter-for.ts lists them.
 */
export interface StoreGeneration {
  readonly format: StoreFormat;
  /** The adapter for the stores of the state dir `stateDir`. */
  adapter(stateDir: string): StoreAdapter;
  readonly watched: WatchedFiles;
  /**
   * What a service must be allowed to write for this generation, beyond the agent folders every generation
   * writes in. A service is installed once and outlives gateway upgrades, so a unit allows every generation's.
   */
  readonly serviceWrites?: {
    /** Folders of the state dir, which must be the service user's own. */
    inStateDir(stateDir: string): string[];
    /** Folders of the host, shared and sticky like /tmp, where the gateway makes a folder of its own on first use. */
    onHost: readonly string[];
  };
  /** `doctor`'s "gateway store" checks of one gateway of this generation, and what its stores need of the host. */
  doctor(gateway: GatewayInstall): Promise<Check[]>;
  /** Cleared for every generation at once: a killed run may have written under the generation before an upgrade. */
  readonly leftovers: Leftovers;
}
