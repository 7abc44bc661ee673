/**
 * The daemon only decides *when* to run the same pass as `sync`: on a change of the Claude credentials, on a
 * new or rewritten agent store, on the resync schedule, and when the token nears expiry (then it first asks
 * `claude` to refresh). Work is queued and run one pass at a time. When the source cannot give a usable
 * credential, our profile is marked with cooldowns the gateway honours; a fresh credential clears them.
 */
import path from "node:path";
import { schedule, type ScheduledTask } from "node-cron";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import {
  type CooldownConfig,
  type Failure,
  DEFAULT_COOLDOWN_CONFIG,
  cooldownConfigFrom,
  isCredentialMarking,
  isMarked,
} from "../reconcile/cooldown.js";
import { formatDuration, formatRelative } from "../core/duration.js";
import { messageOf } from "../core/errors.js";
import { readRegularFile } from "../fs/read-file.js";
import { fingerprint } from "../core/fingerprint.js";
import { type LogEvent, scrubbedTail } from "../log/logger.js";
import { profileSecret } from "../reconcile/profile.js";
import {
  LOGIN_FIX,
  type PassResult,
  loginFailureOf,
  markingKind,
  passActed,
  passSummary,
  runPass,
} from "../pass/pass.js";
import { type Offer, claudeCredentialsFile, readClaudeLogin, setupTokenOffers } from "../sources/index.js";
import { readSetupTokens } from "../sources/setup-token.js";
import { CREDENTIALS_FILENAME } from "../sources/claude-cli-file.js";
import type { StoreAdapter, UpdateOptions, WriteIntent } from "../stores/adapter.js";
import { recoverLocks } from "../stores/locks/journal.js";
import { MAX_STORE_BYTES, removeStaleTempFiles } from "../stores/json-file.js";
import { AUTH_PROFILES_FILENAME, type Agent, isAgentDir } from "../stores/agents.js";
import { AUTH_STATE_FILENAME } from "../stores/generation.js";
import type { AgentReport } from "../pass/apply.js";
import { resolveTargets, storeAdapter } from "../stores/targets.js";
import type { ProfileUsageStats, SourceCredential } from "../types.js";
import { type HookEvent, runEventHook } from "./event-hook.js";
import { type Fields, ProblemLog } from "./problem-log.js";
import { CLI_REFRESH_WINDOW_MS, type RefreshResult, Refresher } from "../refresh/refresher.js";
import { type DaemonState, lockJournalPath, writeDaemonState } from "./runtime-files.js";
import { type FolderWatch, watchFolder } from "./watch.js";
import type { MetricsObserver } from "../metrics/index.js";

/**
 * A store's bursts (a tmp write then a rename, a gateway rewrite) collapse into one pass within this window.
 * The credentials file is not debounced: its watch sees only the finished file (a rename, or an in-place
 * write whose half-read is retried by the reader), and events during a pass already coalesce into one more.
 */
const DEBOUNCE_MS = 10;
/**
 * chokidar drops a second `change` of the same file within 50 ms, with no trailing event; a write that
 * lands right after ours (or a CLI that saves twice) would go unseen. One more look after that window.
 */
const TRAILING_CHECK_MS = 75;
/** setTimeout's limit; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a stop waits for the pass in flight to finish its write. */
const STOP_WAIT_MS = 3_000;

const AGENT_PATH = /^agents\/([^/]+)(?:\/agent(?:\/([^/]+))?)?$/;
const GATEWAY_CONFIGS = new Set(["openclaw.json", "moltbot.json", "clawdbot.json", "moldbot.json"]);
const STORE_FILES = new Set([AUTH_PROFILES_FILENAME, AUTH_STATE_FILENAME]);

/** `agents/<id>`, `agents/<id>/agent` or one of its store files: lock dirs, temp files and sessions are not watched. */
function isAgentPath(rel: string): boolean {
  const match = AGENT_PATH.exec(rel);
  return match !== null && (match[2] === undefined || STORE_FILES.has(match[2]));
}

export interface DaemonOptions {
  config: Config;
  logger: Logger;
  stateFile: string;
  env?: NodeJS.ProcessEnv;
}

export class Daemon {
  private config: Config;
  private readonly log: Logger;
  private readonly problems: ProblemLog;
  private readonly env: NodeJS.ProcessEnv;
  private readonly stateFile: string;
  private readonly state: DaemonState;

  private watchers: FolderWatch[] = [];
  private tasks: ScheduledTask[] = [];
  private timers = new Map<string, NodeJS.Timeout>();

  private pendingFull = false;
  private pendingAgents = new Map<string, Agent>();
  private worker: Promise<void> | undefined;

  private source: SourceCredential | undefined;
  /** Why the source gave nothing on the last read, as a failure to mark; undefined while it is fine. */
  private sourceFailure: Failure | undefined;
  private agents: Agent[] = [];
  /** Whether a full pass has found the agents yet: the first one cleans up after a killed run, quietly. */
  private agentsFound = false;
  /** The setup-tokens to sync, as last read (see loadSetupOffers); undefined until read. */
  private setupOffers: Offer[] | undefined;
  /** The adapter for the store generation found on the last full pass; undefined when we must not write. */
  private adapter: StoreAdapter | undefined;
  private cooldowns: CooldownConfig = DEFAULT_COOLDOWN_CONFIG;
  /** What we last wrote (or are about to write) per store file, to recognise the watcher events of our own writes. */
  private written = new Map<string, string>();
  /**
   * Our profile's marking per agent dir as last written by us or seen: a marking is the gateway's only when it is
   * new, so a gateway rewrite after using another profile, or our own write, is never taken for one.
   */
  private knownMarkings = new Map<string, string>();
  /** The last refresh's failure, until a refresh succeeds or the login changes; undefined while none failed. */
  private refreshFailure: Failure | undefined;
  /** A refresh has just failed: the next full pass counts it as a new failure where it marks. */
  private freshFailure = false;
  /** When the current outage began: the first failure since credentials were last good. */
  private outageSince: number | undefined;

  /** The last (re)build of watchers and schedules; the next one waits for it (see arm). */
  private arming: Promise<void> = Promise.resolve();
  private readonly shutdown = new AbortController();
  private readonly refresher: Refresher;
  private refreshing: Promise<void> | undefined;
  private stopping = false;
  /** Called once the pass in flight (or the next one) has finished. */
  private afterPass: Array<() => void> = [];
  /** The metrics server, when `metrics` is configured (see startMetrics). */
  private metrics: MetricsObserver | undefined;

  constructor(options: DaemonOptions) {
    this.config = options.config;
    this.log = options.logger;
    this.problems = new ProblemLog(options.logger);
    this.env = options.env ?? process.env;
    this.stateFile = options.stateFile;
    this.refresher = new Refresher(() => readClaudeLogin(this.config, this.env), this.env, this.shutdown.signal);
    const now = Date.now();
    this.state = { pid: process.pid, startedAt: now, updatedAt: now };
  }

  /** Runs the first pass, then arms watchers and schedules. Resolves once the daemon is fully armed. */
  async start(): Promise<void> {
    const started = performance.now();
    await this.startMetrics();
    this.event("info", "daemon.started", `watching ${this.credentialsFile()}`, { profile: this.config.profileId });
    // The watchers scan while the first pass runs; both are needed before the daemon is armed.
    const arming = this.arm();
    // Ready after the first pass, not when the queue empties: schedules that tick faster than a pass
    // (a store locked for the lock timeout) would keep the queue full and the daemon never ready.
    const firstPass = new Promise<void>((resolve) => this.afterPass.push(resolve));
    this.enqueueFull();
    await firstPass;
    const firstSyncMs = Math.round(performance.now() - started);
    // The first passes (one more runs when the watchers saw something while scanning) are summed up by what acted.
    const summary = this.state.lastSyncSummary ?? "nothing synced (see the error above)";
    this.event("info", "daemon.ready", `first sync done in ${firstSyncMs} ms: ${summary}`, { firstSyncMs, summary });
    await arming;
    // Anything that changed while the watchers were still scanning is picked up here.
    this.enqueueFull();
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.event("info", "daemon.stopping", `stopping (${reason})`, { reason });
    this.shutdown.abort();
    await this.metrics?.close();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.disarm();
    const inFlight = Promise.all([this.worker, this.refreshing]);
    await Promise.race([inFlight, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
    await this.saveState();
    this.event("info", "daemon.stopped", "stopped");
  }

  /**
   * Applies a new config (SIGHUP): watchers and schedules are rebuilt, the refresh timer follows the new
   * margin, then a full pass runs. Pending debounces and retries keep their timers.
   */
  async reload(config: Config): Promise<void> {
    this.config = config;
    this.setupOffers = undefined;
    this.log.level = config.logLevel;
    await this.arm();
    if (this.stopping) return;
    if (this.source) this.armRefreshTimer(this.source);
    this.event("info", "daemon.reloaded", "config reloaded");
    this.enqueueFull();
  }

  // ── triggers ──────────────────────────────────────────────────────────────

  private credentialsFile(): string {
    return claudeCredentialsFile(this.config, this.env);
  }

  /**
   * (Re)builds watchers and schedules from the current config. Builds run one after another, so a SIGHUP
   * during start (or a second SIGHUP) cannot leave two sets of schedules, or watchers nobody closes.
   */
  private arm(): Promise<void> {
    // A failed build must not block the next one (the caller still sees its error).
    const build = this.arming
      .catch(() => undefined)
      .then(async () => {
        await this.disarm();
        if (this.stopping) return;
        await this.startWatchers();
        this.startSchedules();
        // A stop that came while the watchers were scanning closed only the set before this one.
        if (this.stopping) await this.disarm();
      });
    this.arming = build;
    return build;
  }

  private async startWatchers(): Promise<void> {
    const onError = (err: Error) =>
      this.problems.problem("watch", "warn", "watch.error", `file watch failed: ${err.message}`);
    const watchers = [
      watchFolder(path.dirname(this.credentialsFile()), {
        depth: 0,
        accept: (rel) => rel === CREDENTIALS_FILENAME,
        onEvent: () => {
          this.enqueueFull();
          this.setTimer("source:trailing", TRAILING_CHECK_MS, () => void this.checkSource());
        },
        onError,
      }),
    ];
    const targets = await resolveTargets(this.config, this.env).catch(() => undefined);
    if (targets) {
      const stateDir = targets.stateDir.dir;
      watchers.push(
        watchFolder(stateDir, {
          depth: 3,
          accept: (rel) => GATEWAY_CONFIGS.has(rel) || rel === "agents" || isAgentPath(rel),
          onEvent: (event, file) => this.onStateDirEvent(stateDir, event, file),
          onError,
        }),
      );
    }
    this.watchers = watchers;
    await Promise.all(watchers.map((w) => w.ready));
  }

  private onStateDirEvent(stateDir: string, event: string, file: string): void {
    const rel = path.relative(stateDir, file).split(path.sep).join("/");
    if (GATEWAY_CONFIGS.has(rel)) return this.debounce("gateway-config", () => this.enqueueFull());
    if (!isAgentPath(rel)) return;
    const match = AGENT_PATH.exec(rel)!;
    if (event === "unlinkDir" && match[2] === undefined) return;
    const id = match[1]!;
    const agent: Agent = { id, dir: path.join(stateDir, "agents", id, "agent"), stateDir, from: "disk" };
    const key = `agent:${file}`;
    this.debounce(key, () => void this.onAgentChanged(agent, file));
    this.setTimer(`${key}:trailing`, TRAILING_CHECK_MS, () => void this.onAgentChanged(agent, file));
  }

  /** A store file changed: ignore our own write; otherwise re-sync the agent, and answer a gateway marking. */
  private async onAgentChanged(agent: Agent, file: string): Promise<void> {
    const ours = this.written.get(file);
    const read = () => readRegularFile(file, { maxBytes: MAX_STORE_BYTES }).catch(() => undefined);
    if (ours !== undefined && (await read()) === ours) return;
    this.pendingAgents.set(agent.dir, agent);
    this.kick();
    const store = await this.adapter?.read(agent.dir).catch(() => undefined);
    if (!store) return;
    const stats = store.usageStats?.[this.config.profileId];
    const marking = markingKey(stats);
    const known = this.knownMarkings.get(agent.dir);
    this.knownMarkings.set(agent.dir, marking);
    if (marking === known || !stats || !isMarked(stats, Date.now()) || !isCredentialMarking(stats)) return;
    this.event(
      "info",
      "cooldown.gateway",
      `the gateway marked ${this.config.profileId} in ${agent.id}; asking claude for a fresh token`,
      {
        agent: agent.id,
        profile: this.config.profileId,
        disabledReason: stats.disabledReason,
        failureCounts: stats.failureCounts,
      },
    );
    this.maybeRefresh("gateway-marking", true);
  }

  private startSchedules(): void {
    this.tasks = [
      schedule(this.config.resyncCron, () => this.enqueueFull(), { name: "resync", noOverlap: true }),
      schedule(this.config.refreshCheckCron, () => this.checkRefresh(), { name: "refresh-check", noOverlap: true }),
    ];
  }

  /** Re-reads the source and runs a full pass only if it changed. */
  private async checkSource(): Promise<void> {
    if (this.worker) return void this.enqueueFull();
    const read = await this.readSource();
    if (!read || read.changed) this.enqueueFull();
  }

  /** The refresh-check schedule: re-read the sources (a keyring cannot be watched) and refresh if due. */
  private async checkRefresh(): Promise<void> {
    await this.checkSource();
    if (await this.loadSetupOffers()) this.enqueueFull();
    this.maybeRefresh("schedule");
  }

  /**
   * Reads the setup-tokens into `setupOffers`; true when they changed. Kept between passes because the
   * keyring is a native call: passes use the copy, the schedule and SIGHUP (`token set`) renew it.
   */
  private async loadSetupOffers(): Promise<boolean> {
    const offers = setupTokenOffers(await readSetupTokens(this.config.setupTokenProfileId, this.env)).filter(
      (o) => o.profileId !== this.config.profileId,
    );
    const changed = JSON.stringify(offers) !== JSON.stringify(this.setupOffers);
    this.setupOffers = offers;
    return changed;
  }

  private async disarm(): Promise<void> {
    for (const task of this.tasks) task.destroy();
    this.tasks = [];
    await Promise.all(this.watchers.map((w) => w.close()));
    this.watchers = [];
  }

  private debounce(key: string, fn: () => void): void {
    this.setTimer(`debounce:${key}`, DEBOUNCE_MS, fn);
  }

  private setTimer(key: string, delayMs: number, fn: () => void): void {
    if (this.stopping) return;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(
        () => {
          this.timers.delete(key);
          fn();
        },
        Math.max(0, Math.min(delayMs, MAX_TIMER_MS)),
      ),
    );
  }

  private enqueueFull(): void {
    this.pendingFull = true;
    this.kick();
  }

  private kick(): void {
    if (this.worker || this.stopping) return;
    this.worker = this.drain().finally(() => {
      this.worker = undefined;
      if ((this.pendingFull || this.pendingAgents.size > 0) && !this.stopping) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while ((this.pendingFull || this.pendingAgents.size > 0) && !this.stopping) {
      const full = this.pendingFull;
      const agents = [...this.pendingAgents.values()];
      this.pendingFull = false;
      this.pendingAgents.clear();
      let result: PassResult | undefined;
      try {
        result = await this.pass(full ? undefined : agents);
      } catch (err) {
        this.event("error", "daemon.error", `pass failed: ${messageOf(err)}`);
      }
      this.metrics?.passDone(result);
      for (const done of this.afterPass.splice(0)) done();
    }
    for (const done of this.afterPass.splice(0)) done();
  }

  // ── the pass ──────────────────────────────────────────────────────────────

  /** Reconciles `only` those agents, or every agent; marks them instead when the source is unusable. */
  private async pass(only: Agent[] | undefined): Promise<PassResult | undefined> {
    const read = await this.readSource();
    // A pass for some agents that is first to see a new credential must take it to all of them: the
    // change is now consumed, and chokidar may have dropped the event that would have run a full pass.
    const agents =
      only && this.adapter && !read?.changed ? this.noteAgents(await this.present(only)) : await this.findAgents();
    const adapter = this.adapter;
    if (!agents || !adapter) return undefined;
    const target = { agents, adapter };
    if (!this.setupOffers) await this.loadSetupOffers();
    const occurrence = !only && this.freshFailure ? "new" : "ongoing";
    if (!only) this.freshFailure = false;
    const result = await runPass({
      target,
      config: this.config,
      login: read?.source,
      loginFailure: this.sourceFailure,
      refreshFailure: this.refreshFailure,
      setupOffers: this.setupOffers ?? [],
      cooldowns: this.cooldowns,
      options: this.updateOptions(),
      occurrence,
    });
    this.noteResult(result, read?.source);
    await this.learnMarkings(agents);
    // A pass that found everything in step keeps the summary of the last one that acted.
    if (passActed(result) || this.state.lastSyncSummary === undefined) {
      this.state.lastSyncAt = Date.now();
      const noLogin = this.sourceFailure?.needsLogin ? "not logged in" : this.sourceFailure?.message;
      this.state.lastSyncSummary = passSummary(result, noLogin);
    }
    await this.saveState();
    this.maybeRefresh("expiry");
    return result;
  }

  private async findAgents(): Promise<Agent[] | undefined> {
    let targets;
    try {
      targets = await resolveTargets(this.config, this.env);
    } catch (err) {
      this.problems.problem("targets", "error", "state_dir.missing", messageOf(err));
      return undefined;
    }
    this.problems.clear("targets", "state_dir.found", `state dir ${targets.stateDir.dir} found`);
    const config = targets.gatewayConfig;
    if (config?.error)
      this.problems.problem(
        "gateway-config",
        "warn",
        "gateway_config.invalid",
        `gateway config ${config.file} cannot be parsed (${config.error}); using the agents found on disk`,
      );
    else this.problems.clear("gateway-config", "gateway_config.recovered", "gateway config readable again");
    // Each skipped agent is one problem: logged once, and again only if the config changes it.
    const skipped = targets.warnings.join("; ");
    if (skipped) this.problems.problem("agents-config", "warn", "gateway_config.invalid", skipped);
    else this.problems.clear("agents-config", "gateway_config.recovered", "every agent in agents.list is synced");
    this.cooldowns = cooldownConfigFrom(config?.value);
    try {
      this.adapter = storeAdapter(targets);
      this.problems.clear(
        "generation",
        "store.recovered",
        `the gateway store is writable again (${targets.generation.format})`,
      );
    } catch (err) {
      this.adapter = undefined;
      this.problems.problem("generation", "error", "store.unsupported", messageOf(err));
      return undefined;
    }
    const first = !this.agentsFound;
    this.agentsFound = true;
    if (first) {
      for (const lock of await recoverLocks(lockJournalPath(this.env)))
        this.event("info", "store.cleaned", `removed ${lock}, left by a killed moltbot-auth-sync`, { lock });
      for (const agent of targets.agents) {
        const removed = await removeStaleTempFiles(agent.dir);
        if (removed.length)
          this.event(
            "info",
            "store.cleaned",
            `removed ${removed.length} temp file(s) a killed writer left in ${agent.dir}`,
            { agent: agent.id, files: removed },
          );
      }
    }
    for (const gone of this.agents.filter((a) => !targets.agents.some((b) => b.dir === a.dir))) this.forgetAgent(gone);
    this.noteAgents(targets.agents, first);
    this.agents = targets.agents;
    return targets.agents;
  }

  /**
   * The agents of store events that still exist. One whose folder is gone was removed (`rm -rf`): writing
   * its store would make it again, so it is forgotten instead.
   */
  private async present(agents: Agent[]): Promise<Agent[]> {
    const present: Agent[] = [];
    for (const agent of agents) {
      if (await isAgentDir(agent.dir)) present.push(agent);
      else this.forgetAgent(agent);
    }
    return present;
  }

  private forgetAgent(agent: Agent): void {
    if (!this.agents.some((a) => a.dir === agent.dir)) return;
    this.agents = this.agents.filter((a) => a.dir !== agent.dir);
    this.event("info", "agent.removed", `agent ${agent.id} is gone; no longer synced`, { agent: agent.id });
  }

  /** Adds agents not seen before to the known list, logging each (except on the first pass). */
  private noteAgents(agents: Agent[], quiet = false): Agent[] {
    const known = new Set(this.agents.map((a) => a.dir));
    for (const agent of agents) {
      if (known.has(agent.dir)) continue;
      if (!quiet) this.event("info", "agent.added", `new agent ${agent.id}`, { agent: agent.id });
      this.agents.push(agent);
      known.add(agent.dir);
    }
    return agents;
  }

  private async readSource(): Promise<{ source: SourceCredential; changed: boolean } | undefined> {
    let source: SourceCredential;
    try {
      source = await readClaudeLogin(this.config, this.env);
    } catch (err) {
      this.sourceFailure = loginFailureOf(err);
      const missing = this.sourceFailure.needsLogin;
      this.problems.problem(
        "source",
        missing ? "warn" : "error",
        missing ? "source.missing" : "source.invalid",
        messageOf(err),
      );
      this.source = undefined;
      return undefined;
    }
    this.sourceFailure = undefined;
    this.problems.clear("source", "source.recovered", `credentials readable again: ${fingerprint(source.accessToken)}`);
    const previous = this.source;
    this.source = source;
    const changed = !previous || previous.accessToken !== source.accessToken || previous.expiresAt !== source.expiresAt;
    if (changed) {
      this.event(
        "info",
        "source.changed",
        `${fingerprint(source.accessToken)} expires ${formatRelative(source.expiresAt, Date.now())}`,
        {
          fingerprint: fingerprint(source.accessToken),
          expiresAt: source.expiresAt,
        },
      );
      this.state.source = { fingerprint: fingerprint(source.accessToken), expiresAt: source.expiresAt };
      // A new login or token: the last refresh's failure was about the one before.
      this.refreshFailure = undefined;
      this.armRefreshTimer(source);
      // At expiry a pass runs: if claude could not refresh the token by then, the token is marked as it stops working.
      const left = source.expiresAt - Date.now();
      if (left > 0) this.setTimer("expiry", left + 1, () => this.enqueueFull());
    }
    return { source, changed };
  }

  /** Logs one agent's result; `secret` and `expiresAt` describe what was written (only its fingerprint is logged). */
  private logReport(report: AgentReport, secret?: string, expiresAt?: number): void {
    const fields = { agent: report.agent, profile: report.profile };
    for (const warning of report.warnings) this.event("warn", "store.permissions", warning, fields);
    const key = `store:${report.file}`;
    switch (report.result) {
      case "written":
        this.problems.clear(key, "store.recovered", `${report.agent} writable again`, fields);
        this.event(
          "info",
          "sync.written",
          `${report.agent}: ${report.profile} ${report.reason} ${fingerprint(secret)}`,
          { ...fields, fingerprint: fingerprint(secret), ...(expiresAt ? { expiresAt } : {}) },
        );
        break;
      case "marked":
      case "cleared":
        this.problems.clear(key, "store.recovered", `${report.agent} writable again`, fields);
        break;
      case "unchanged":
        this.problems.clear(key, "store.recovered", `${report.agent} readable again`, fields);
        this.event("debug", "sync.unchanged", `${report.agent}: unchanged`, fields);
        break;
      case "skipped":
        this.problems.problem(key, "info", "sync.skipped", `${report.agent}: ${report.reason}`, fields);
        break;
      case "failed": {
        const event: LogEvent =
          report.code === "store.locked"
            ? "store.locked"
            : report.code === "store.invalid"
              ? "store.invalid"
              : report.code === "store.unwritable"
                ? "store.unwritable"
                : "sync.failed";
        this.problems.problem(key, "warn", event, report.reason ?? "failed", fields);
        break;
      }
    }
  }

  private updateOptions(): UpdateOptions {
    return {
      lockTimeoutMs: this.config.lockTimeout,
      lockJournal: lockJournalPath(this.env),
      beforeWrite: (intent) => this.remember(intent),
    };
  }

  /** Called before the rename: the watcher may see the new file before the write returns. */
  private remember(intent: WriteIntent): void {
    for (const write of intent.writes) this.written.set(write.file, write.content);
    this.knownMarkings.set(intent.agentDir, markingKey(intent.store.usageStats?.[this.config.profileId]));
  }

  /** The markings in stores not read since the start, so a first watcher event compares with what was there. */
  private async learnMarkings(agents: readonly Agent[]): Promise<void> {
    for (const agent of agents) {
      if (this.knownMarkings.has(agent.dir)) continue;
      const store = await this.adapter?.read(agent.dir).catch(() => undefined);
      if (store) this.knownMarkings.set(agent.dir, markingKey(store.usageStats?.[this.config.profileId]));
    }
  }

  /** Logs what a pass did: every agent's result, a recovery, a marking. */
  private noteResult(result: PassResult, login: SourceCredential | undefined): void {
    for (const { offer, reports } of result.copies) {
      const isLogin = offer.kind === "claude-login" && login !== undefined;
      const expiresAt = isLogin ? login.expiresAt : undefined;
      for (const report of reports) this.logReport(report, profileSecret(offer.profile), expiresAt);
      if (isLogin) this.noteRecovery(reports, login);
    }
    if (result.marking) this.noteMarking(result.marking.failure, result.marking.reports);
  }

  // ── cooldowns and recovery ────────────────────────────────────────────────

  /** Logs what marking our profile did, once per change of problem. */
  private noteMarking(failure: Failure, reports: readonly AgentReport[]): void {
    this.outageSince ??= Date.now();
    for (const report of reports) this.logReport(report);
    const marked = reports.filter((r) => r.result === "marked").map((r) => r.agent);
    if (marked.length > 0) {
      const kind = markingKind(failure);
      this.event(
        "warn",
        "cooldown.marked",
        `${this.config.profileId} ${kind} in ${marked.join(", ")}: ${failure.message}`,
        { profile: this.config.profileId, reason: failure.reason, agents: marked },
      );
    }
    // Once per incident, however its wording varies: the incident ends only with `recovered`.
    if (failure.needsLogin && !this.problems.isOpen("needs_login")) {
      this.hook("needs_login", failure.message, marked);
      const msg = `Claude login needs a person: ${failure.message}. Fix: ${LOGIN_FIX}`;
      const fields = { profile: this.config.profileId, reason: failure.reason };
      this.problems.problem("needs_login", "error", "needs_login", msg, fields);
    }
  }

  /** A fresh credential cleared markings somewhere: log `recovered` with how long it lasted. */
  private noteRecovery(reports: readonly AgentReport[], source: SourceCredential): void {
    const recovered = reports.filter((r) => r.recovered);
    if (recovered.length === 0) return;
    const since = Math.min(this.outageSince ?? Infinity, ...recovered.map((r) => r.recovered?.since ?? Infinity));
    const lasted = Number.isFinite(since) ? Date.now() - since : undefined;
    const agents = recovered.map((r) => r.agent);
    this.problems.forget("needs_login");
    this.event(
      "info",
      "recovered",
      `${this.config.profileId} usable again with ${fingerprint(source.accessToken)}${lasted !== undefined ? ` after ${formatDuration(lasted)}` : ""}; markings cleared in ${agents.join(", ")}`,
      {
        profile: this.config.profileId,
        agents,
        ...(lasted !== undefined ? { outageMs: lasted } : {}),
      },
    );
    this.outageSince = undefined;
    this.hook("recovered", "fresh credentials", agents);
  }

  private hook(event: HookEvent, reason: string, agents: string[]): void {
    void runEventHook(this.config.onEvent, event, { profile: this.config.profileId, reason, agents }, this.log);
  }

  // ── refresh through claude ────────────────────────────────────────────────

  /** Arms a timer for exactly `expiresAt - refreshMargin`, so the daemon acts on time whatever the crons say. */
  private armRefreshTimer(source: SourceCredential): void {
    const at = source.expiresAt - this.config.refreshMargin;
    this.state.nextRefreshAt = at;
    this.event("debug", "refresh.scheduled", `refresh due ${formatRelative(at, Date.now())}`, { at });
    this.setTimer("refresh", at - Date.now(), () =>
      Date.now() >= at ? this.maybeRefresh("timer") : this.source && this.armRefreshTimer(this.source),
    );
  }

  private maybeRefresh(trigger: string, force = false): void {
    const source = this.source;
    if (!source || this.stopping || !this.refresher.isDue(source, this.config, Date.now(), force)) return;
    this.event(
      "info",
      "refresh.started",
      `asking claude to refresh ${fingerprint(source.accessToken)} (expires ${formatRelative(source.expiresAt, Date.now())})`,
      { trigger },
    );
    this.refreshing = this.refresher
      .run(source, this.config, force)
      .then((result) => this.onRefreshed(result, trigger))
      .catch((err: unknown) => this.event("error", "daemon.error", `refresh: ${messageOf(err)}`))
      .finally(() => (this.refreshing = undefined));
  }

  private async onRefreshed(result: RefreshResult, trigger: string): Promise<void> {
    if (this.stopping) return;
    const fields: Fields = { trigger, durationMs: result.run.durationMs };
    if (result.outcome === "refreshed") {
      this.refreshFailure = undefined;
      this.event(
        "info",
        "refresh.succeeded",
        `claude refreshed: ${fingerprint(result.after.accessToken)} expires ${formatRelative(result.after.expiresAt, Date.now())}`,
        { ...fields, expiresAt: result.after.expiresAt },
      );
      this.enqueueFull();
      return;
    }
    if (result.outcome === "token-works") {
      this.refreshFailure = undefined;
      const next = result.nextTryAt;
      if (next === undefined) {
        this.event(
          "info",
          "refresh.unneeded",
          "claude ran fine with its current token; the gateway's marking is left to expire",
          fields,
        );
        return;
      }
      const margin = formatDuration(this.config.refreshMargin);
      this.event(
        "info",
        "refresh.unneeded",
        `claude had nothing to refresh yet: it refreshes only within ${formatDuration(CLI_REFRESH_WINDOW_MS)} of expiry, and refreshMargin is ${margin}; next try ${formatRelative(next, Date.now())}`,
        { ...fields, nextTryAt: next },
      );
      this.state.nextRefreshAt = next;
      this.setTimer("refresh-retry", next - Date.now(), () => this.retryRefresh());
      return;
    }
    const { failure, run } = result;
    this.event("warn", "refresh.failed", `${failure.message}; retry in ${Math.round(result.retryInMs / 1000)} s`, {
      ...fields,
      attempt: result.attempt,
      reason: failure.reason,
      exitCode: run.exitCode,
      timedOut: run.timedOut,
      retryInMs: result.retryInMs,
      output: scrubbedTail(run.output, 300),
    });
    this.problems.last = { at: Date.now(), event: "refresh.failed", message: failure.message };
    this.hook(
      "refresh.failed",
      failure.message,
      this.agents.map((a) => a.id),
    );
    // The pass marks our profile only if the held credential cannot work (pass.ts, unusableFailure).
    this.refreshFailure = failure;
    this.freshFailure = true;
    this.enqueueFull();
    await this.saveState();
    this.setTimer("refresh-retry", result.retryInMs, () => this.retryRefresh());
  }

  /** An announced retry runs claude (forced: the first try may have been a forced one), or logs why it does not. */
  private retryRefresh(): void {
    if (this.stopping) return;
    const now = Date.now();
    // A timer can fire a little before the backoff's end by the wall clock: wait for it instead of skipping.
    const backoffEnds = this.refresher.retryAt;
    if (now < backoffEnds) return this.setTimer("refresh-retry", backoffEnds - now, () => this.retryRefresh());
    const source = this.source;
    const due = source && source.expiresAt - this.config.refreshMargin;
    let skip: string | undefined;
    if (!source) skip = "no Claude login to refresh";
    else if (this.refresher.busy) skip = "a refresh is already running";
    else if (!this.refreshFailure && now < due!) {
      skip = `the login changed since; next refresh due ${formatRelative(due!, now)}`;
    }
    if (skip) return this.event("info", "refresh.skipped", `retry not run: ${skip}`, { trigger: "retry" });
    this.maybeRefresh("retry", true);
  }

  // ── metrics (opt-in) ──────────────────────────────────────────────────────

  /** Binds the metrics server when configured; loaded only then, so prom-client costs nothing by default. */
  private async startMetrics(): Promise<void> {
    if (!this.config.metrics) return;
    const { startMetrics } = await import("../metrics/index.js");
    this.metrics = await startMetrics({
      config: () => this.config,
      env: this.env,
      daemon: () => ({ ...this.state, running: true }),
      log: (level, event, msg, fields) => this.event(level, event, msg, fields),
    });
    // Attached after its own `metrics.listening` line, which is no problem to count.
    this.problems.observer = this.metrics;
  }

  // ── logging and state ─────────────────────────────────────────────────────

  private event(level: "debug" | "info" | "warn" | "error", event: LogEvent, msg: string, fields: Fields = {}): void {
    this.problems.event(level, event, msg, fields);
  }

  private async saveState(): Promise<void> {
    this.state.updatedAt = Date.now();
    if (this.problems.last) this.state.lastError = this.problems.last;
    try {
      await writeDaemonState(this.stateFile, this.state);
      this.problems.clear("state-file", "state_file.recovered", "state file writable again");
    } catch (err) {
      this.problems.problem(
        "state-file",
        "warn",
        "state_file.unwritable",
        `cannot write ${this.stateFile}: ${messageOf(err)}`,
      );
    }
  }
}

/** The part of our profile's stats that marks it: a change here that we did not write is the gateway's marking. */
function markingKey(stats: ProfileUsageStats | undefined): string {
  const { cooldownUntil, disabledUntil, disabledReason, errorCount, failureCounts } = stats ?? {};
  return JSON.stringify([cooldownUntil, disabledUntil, disabledReason, errorCount, failureCounts]);
}
