/**
 * What makes the daemon act: file watches on the Claude credentials and on the gateway's state dir (its
 * config, its agents and their stores, JSON or SQLite), and the resync and refresh-check schedules. Each
 * event is handed on as what it means; the daemon decides what to run.
 */
import { existsSync, lstatSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config/config.js";
import { loginConfigs } from "../config/logins.js";
import { claudeCredentialsFile } from "../sources/index.js";
import { declared } from "../stores/adapter-for.js";
import { type Agent, CONFIG_NAMES } from "../stores/discovery/agents.js";
import { configuredStateDirs } from "../stores/discovery/gateway.js";
import { stateDirOrDefault } from "../stores/discovery/state-dir.js";
import { watchFile } from "./file-watch.js";
import { type Schedule, startSchedule } from "./schedule.js";
import type { Timers } from "./timers.js";
import { type FolderWatch, type WatchEvent, watchFolder } from "./watch.js";

/**
 * A store's bursts (a tmp write then a rename, a gateway rewrite) collapse into one pass within this window.
 * The credentials file is not debounced: its watch sees only the finished file (a rename, or an in-place
 * write whose half-read is retried by the reader), and events during a pass already coalesce into one more.
 */
const DEBOUNCE_MS = 10;
/** How long a store's removal is left to finish before the agent is synced again (see onStateDirEvent). */
const REMOVAL_MS = 1_000;
/**
 * chokidar drops a second `change` of the same file within 50 ms, with no trailing event; a write that
 * lands right after ours (or a CLI that saves twice) would go unseen. One more look after that window.
 */
const TRAILING_CHECK_MS = 75;

/** Every generation's store files: a state dir changes generation under a running daemon (a gateway upgraded). */
const STORE_FILES = new Set(declared((g) => g.watched.agentFiles).flat());
const SHARED_FILES = new Set(declared((g) => g.watched.sharedFiles).flat());
/** Files whose event counts only while they hold something (a SQLite write-ahead log; see the generation's). */
const LOGS = new Set(declared((g) => g.watched.logs).flat());
/** Each folder of shared stores (the SQLite era's `state`), and the store a new one of it is reported as. */
const SHARED_HOMES = new Map(
  [...SHARED_FILES].filter((rel) => !LOGS.has(rel)).map((rel) => [path.posix.dirname(rel), rel] as const),
);
const AGENT_PATH = /^agents\/([^/]+)(?:\/agent(?:\/([^/]+))?)?$/;
const GATEWAY_CONFIGS = new Set<string>(CONFIG_NAMES);

/** `agents/<id>`, `agents/<id>/agent` or one of its store files: lock dirs, temp files and sessions are not watched. */
function isAgentPath(rel: string): boolean {
  const match = AGENT_PATH.exec(rel);
  return match !== null && (match[2] === undefined || STORE_FILES.has(match[2]));
}

/** An agent's store file: seen through its agent folder's own watch, which drops no event. */
function isAgentStoreFile(rel: string): boolean {
  const store = AGENT_PATH.exec(rel)?.[2];
  return store !== undefined && STORE_FILES.has(store);
}

/**
 * The leaves of the state dir's watch (watch.ts), whose entries a plain watch of ours reports, none dropped:
 * `agents/<id>`, watched through its `agent` folder (one inotify watch per agent; the agent's own folder is
 * watched only while `agent` is missing), and `state`, where the shared database's -wal comes and goes.
 */
const AGENT_HOME = /^agents\/[^/]+$/;
const isLeaf = (rel: string) => AGENT_HOME.test(rel) || SHARED_HOMES.has(rel);

export interface TriggerHandlers {
  /** The credentials file changed (now), and again once its burst is over (`settled`). */
  credentials(settled: boolean): void;
  gatewayConfig(): void;
  /** An agent's folder or store changed; called again once the burst is over. */
  agentStore(agent: Agent, file: string): void;
  /** The shared SQLite store, which every agent reads, changed (once its burst is over). */
  sharedStore(file: string): void;
  /** A write-ahead log's event that changed nothing: it is gone or empty (a reader's, maybe ours). */
  walIgnored(file: string): void;
  resync(): void;
  refreshCheck(): void;
  watchError(err: Error): void;
}

export class Triggers {
  private watchers: FolderWatch[] = [];
  /** Each gateway's state dir watch, by its dir (several with `stateDirs`). */
  private stateDirWatches = new Map<string, FolderWatch>();
  private schedules: Schedule[] = [];
  /** The last (re)build of watchers and schedules; the next one waits for it (see arm). */
  private arming: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly timers: Timers,
    private readonly on: TriggerHandlers,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * (Re)builds watchers and schedules from `config`. Builds run one after another, so a SIGHUP during
   * start (or a second SIGHUP) cannot leave two sets of schedules, or watchers nobody closes.
   */
  arm(config: Config): Promise<void> {
    // A failed build must not block the next one (the caller still sees its error).
    const build = this.arming
      .catch(() => undefined)
      .then(async () => {
        await this.disarm();
        if (this.stopped) return;
        await this.watch(config);
        this.schedule(config);
        // A stop that came while the watchers were scanning closed only the set before this one.
        if (this.stopped) await this.disarm();
      });
    this.arming = build;
    return build;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.disarm();
  }

  private async watch(config: Config): Promise<void> {
    const onError = (err: Error) => this.on.watchError(err);
    // Each login's credentials folder; two logins in one folder would be one file, which the config refuses.
    const files = [...new Set(loginConfigs(config).map((login) => claudeCredentialsFile(login, this.env)))];
    const watchers = files.map((file, i) =>
      watchFile(file, {
        onEvent: () => {
          this.on.credentials(false);
          const trailing = i === 0 ? "source:trailing" : `source:${path.dirname(file)}:trailing`;
          this.timers.set(trailing, TRAILING_CHECK_MS, () => this.on.credentials(true));
        },
        onError,
      }),
    );
    // Every configured state dir, there yet or not (a volume mounted later is seen from the folder above it);
    // without stateDirs, the one state dir the same way: named or found, else where a new gateway makes it.
    // Only the folder is needed here: the first pass, running meanwhile, finds its agents.
    const stateDirs = configuredStateDirs(config, this.env) ?? [stateDirOrDefault(config.stateDir, this.env)];
    for (const stateDir of stateDirs) this.stateDirWatches.set(stateDir, this.watchStateDir(stateDir));
    this.watchers = watchers;
    await Promise.all([...watchers, ...this.stateDirWatches.values()].map((w) => w.ready));
  }

  /**
   * Makes a state dir's watch again (a volume mounted over it since); after the arming in progress. True once the
   * new watch is ready; false when there was none to make again (stopped, or the dir is no longer served).
   */
  rewatch(stateDir: string): Promise<boolean> {
    const build = this.arming
      .catch(() => undefined)
      .then(async () => {
        const old = this.stateDirWatches.get(stateDir);
        if (this.stopped || !old) return false;
        await old.close();
        const watch = this.watchStateDir(stateDir);
        this.stateDirWatches.set(stateDir, watch);
        await watch.ready;
        return true;
      });
    this.arming = build;
    return build;
  }

  private watchStateDir(stateDir: string): FolderWatch {
    return watchFolder(stateDir, {
      // `agents/<id>` (depth 1) and `state` are leaves: their store files are seen through our own watches.
      depth: 1,
      leafDepth: 1,
      accept: (rel) => GATEWAY_CONFIGS.has(rel) || rel === "agents" || isAgentPath(rel) || isSharedPath(rel),
      leafFolder: isLeaf,
      onEvent: (event, file) => this.onStateDirEvent(stateDir, event, file),
      onError: (err) => this.on.watchError(err),
    });
  }

  private onStateDirEvent(stateDir: string, event: WatchEvent, file: string): void {
    const rel = path.relative(stateDir, file).split(path.sep).join("/");
    if (GATEWAY_CONFIGS.has(rel)) return this.debounce("gateway-config", () => this.on.gatewayConfig());
    const log = LOGS.has(AGENT_PATH.exec(rel)?.[2] ?? rel);
    const live = (fn: () => void) => () => (log && !holdsFrames(file) ? this.on.walIgnored(file) : fn());
    // Seen through our own watch of `state`, which drops no event; its files made with it are not reported.
    if (SHARED_FILES.has(rel))
      return this.debounce(
        `shared:${rel}`,
        live(() => this.on.sharedStore(file)),
      );
    const sharedStore = SHARED_HOMES.get(rel);
    if (sharedStore !== undefined && event === "addDir")
      return this.debounce(`shared:${sharedStore}`, () => this.on.sharedStore(path.join(stateDir, sharedStore)));
    if (!isAgentPath(rel)) return;
    const match = AGENT_PATH.exec(rel)!;
    if (event === "unlinkDir" && match[2] === undefined) return;
    const id = match[1]!;
    const agent: Agent = { id, dir: path.join(stateDir, "agents", id, "agent"), stateDir };
    const changed = live(() => this.on.agentStore(agent, file));
    // A store file's watch drops no event, so the end of its burst is enough; chokidar's events want the trailing look.
    // A store that is gone may be an operator's `rm -rf` of the agent under way (each name unlinked, then the
    // folder): a pass now would make the store again in a folder about to be removed, and its removal fail.
    if (isAgentStoreFile(rel)) this.debounce(`agent:${file}`, changed, existsSync(file) ? DEBOUNCE_MS : REMOVAL_MS);
    else this.settle(`agent:${file}`, changed);
  }

  /** Runs `fn` once a burst is over, and once more after chokidar's window for dropped events. */
  private settle(key: string, fn: () => void): void {
    this.debounce(key, fn);
    this.timers.set(`${key}:trailing`, TRAILING_CHECK_MS, fn);
  }

  private debounce(key: string, fn: () => void, ms = DEBOUNCE_MS): void {
    this.timers.set(`debounce:${key}`, ms, fn);
  }

  private schedule(config: Config): void {
    this.schedules = [
      startSchedule(config.resyncCron, () => this.on.resync()),
      startSchedule(config.refreshCheckCron, () => this.on.refreshCheck()),
    ];
  }

  private async disarm(): Promise<void> {
    for (const schedule of this.schedules) schedule.stop();
    this.schedules = [];
    await Promise.all([...this.watchers, ...this.stateDirWatches.values()].map((w) => w.close()));
    this.watchers = [];
    this.stateDirWatches = new Map();
  }
}

/** A folder of shared stores (`state`), one of its stores, or a store's log. */
function isSharedPath(rel: string): boolean {
  return SHARED_HOMES.has(rel) || SHARED_FILES.has(rel);
}

/** Whether a log is there with something written in it (see LOGS). */
function holdsFrames(file: string): boolean {
  try {
    return lstatSync(file).size > 0;
  } catch {
    return false;
  }
}
