/**
 * The daemon only decides *when* to run the same pass as `sync`: on a change of the Claude credentials, on a
 * new or rewritten agent store, on the resync schedule, and when the token nears expiry (then it first asks
 * `claude` to refresh). Work is queued and run one pass at a time. When the source cannot give a usable
 * credential, our profile is marked with cooldowns the gateway honours; a fresh credential clears them.
 * This file wires the parts: triggers, the pass queue, the refresh scheduler, the outage tracker, the
 * report-to-log step and the state file each live in their own module.
 */
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { messageOf } from "../core/errors.js";
import { type PassResult, passActed, passSummary, runPass } from "../pass/pass.js";
import { PassProgress } from "../pass/progress.js";
import { profileSecret } from "../reconcile/profile.js";
import { Refresher } from "../refresh/refresher.js";
import { claudeCredentialsFile, readClaudeLogin } from "../sources/index.js";
import type { UpdateOptions } from "../stores/adapter.js";
import type { Agent } from "../stores/agents.js";
import { fingerprint } from "../core/fingerprint.js";
import type { SourceCredential } from "../types.js";
import { AgentRegistry } from "./agent-registry.js";
import { type Clock, systemClock } from "./clock.js";
import { type HookEvent, runEventHook } from "./event-hook.js";
import { GatewayMarkings } from "./gateway-markings.js";
import { LoginSource } from "./login.js";
import { OutageTracker } from "./outage.js";
import { PassQueue } from "./pass-queue.js";
import { type Fields, type Level, ProblemLog } from "./problem-log.js";
import { RefreshScheduler } from "./refresh-scheduler.js";
import { logReport } from "./report-log.js";
import { lockJournalPath } from "./runtime-files.js";
import { StateFile } from "./state-file.js";
import { Timers } from "./timers.js";
import { TokenExpiryAlerts } from "./token-expiry.js";
import { Triggers } from "./triggers.js";
import type { LogEvent } from "../log/logger.js";
import type { MetricsObserver } from "../metrics/index.js";

/** How long a stop waits for the pass in flight to finish its write. */
const STOP_WAIT_MS = 3_000;

export interface DaemonOptions {
  config: Config;
  logger: Logger;
  stateFile: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
}

export class Daemon {
  private config: Config;
  private readonly log: Logger;
  private readonly problems: ProblemLog;
  private readonly env: NodeJS.ProcessEnv;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly stateFile: StateFile;
  private readonly login: LoginSource;
  private readonly registry: AgentRegistry;
  private readonly markings: GatewayMarkings;
  private readonly queue: PassQueue;
  private readonly refresh: RefreshScheduler;
  private readonly outage: OutageTracker;
  private readonly triggers: Triggers;
  /** `token.expiring` and `token.expired`, said at most once a day per setup-token. */
  private readonly tokenAlerts: TokenExpiryAlerts;
  /** The metrics server, when `metrics` is configured (see startMetrics). */
  private metrics: MetricsObserver | undefined;
  private readonly shutdown = new AbortController();
  private stopping = false;

  constructor(options: DaemonOptions) {
    this.config = options.config;
    this.log = options.logger;
    const problems = (this.problems = new ProblemLog(options.logger));
    const env = (this.env = options.env ?? process.env);
    const clock = (this.clock = options.clock ?? systemClock);
    const config = () => this.config;
    this.timers = new Timers(clock);
    this.stateFile = new StateFile(options.stateFile, problems, clock, process.pid);
    this.registry = new AgentRegistry(problems, lockJournalPath(env));
    this.markings = new GatewayMarkings(() => this.config.profileId);
    this.queue = new PassQueue(
      (only) =>
        this.pass(only).then(
          (result) => this.metrics?.passDone(result),
          (err: unknown) => {
            this.metrics?.passDone(undefined);
            throw err;
          },
        ),
      (err) => this.event("error", "daemon.error", `pass failed: ${messageOf(err)}`),
    );
    this.login = new LoginSource({
      clock,
      problems,
      config,
      env,
      onChange: (login) => {
        this.stateFile.state.source = { fingerprint: fingerprint(login.accessToken), expiresAt: login.expiresAt };
        this.refresh.loginChanged(login);
      },
    });
    this.refresh = new RefreshScheduler({
      clock,
      timers: this.timers,
      refresher: new Refresher(() => readClaudeLogin(this.config, env), env, this.shutdown.signal),
      config,
      login: () => this.login.current,
      log: problems,
      fullPass: () => this.queue.full(),
      onNextRefresh: (at) => (this.stateFile.state.nextRefreshAt = at),
      onFailed: (failure) => {
        problems.last = { at: clock.now(), event: "refresh.failed", message: failure.message };
        const agents = this.registry.agents.map((a) => a.id);
        this.hook("refresh.failed", failure.message, agents);
      },
      saveState: () => this.stateFile.save(),
    });
    this.outage = new OutageTracker({
      clock,
      problems,
      profileId: () => this.config.profileId,
      hook: (event, reason, agents) => this.hook(event, reason, agents),
    });
    this.tokenAlerts = new TokenExpiryAlerts(
      (level, event, msg, fields) => this.event(level, event, msg, fields),
      (event, facts) => void runEventHook(this.config.onEvent, event, facts, this.log),
    );
    this.triggers = new Triggers(
      this.timers,
      {
        credentials: (settled) => (settled ? void this.checkSource() : this.queue.full()),
        gatewayConfig: () => this.queue.full(),
        agentStore: (agent, file) => void this.onAgentChanged(agent, file),
        sharedStore: (file) => {
          for (const agent of this.registry.agents) void this.onAgentChanged(agent, file);
        },
        resync: () => this.queue.full(),
        refreshCheck: () => void this.checkRefresh(),
        watchError: (err) => problems.problem("watch", "warn", "watch.error", `file watch failed: ${err.message}`),
      },
      env,
    );
  }

  /** Runs the first pass, then arms watchers and schedules. Resolves once the daemon is fully armed. */
  async start(): Promise<void> {
    const started = performance.now();
    await this.startMetrics();
    const watching = `watching ${claudeCredentialsFile(this.config, this.env)}`;
    this.event("info", "daemon.started", watching, { profile: this.config.profileId });
    // The watchers scan while the first pass runs; both are needed before the daemon is armed.
    const arming = this.triggers.arm(this.config);
    // Ready after the first pass, not when the queue empties: schedules that tick faster than a pass
    // (a store locked for the lock timeout) would keep the queue full and the daemon never ready.
    const firstPass = this.queue.nextPassDone();
    this.queue.full();
    await firstPass;
    const firstSyncMs = Math.round(performance.now() - started);
    // The first passes (one more runs when the watchers saw something while scanning) are summed up by what acted.
    const summary = this.stateFile.state.lastSyncSummary ?? "nothing synced (see the error above)";
    this.event("info", "daemon.ready", `first sync done in ${firstSyncMs} ms: ${summary}`, { firstSyncMs, summary });
    await arming;
    // Anything that changed while the watchers were still scanning is picked up here.
    this.queue.full();
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.event("info", "daemon.stopping", `stopping (${reason})`, { reason });
    this.shutdown.abort();
    await this.metrics?.close();
    this.timers.stop();
    this.refresh.stop();
    const pass = this.queue.stop();
    await this.triggers.stop();
    const inFlight = Promise.all([pass, this.refresh.inFlight]);
    await Promise.race([inFlight, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
    await this.stateFile.save();
    this.event("info", "daemon.stopped", "stopped");
  }

  /**
   * Applies a new config (SIGHUP): watchers and schedules are rebuilt, the refresh timer follows the new
   * margin, then a full pass runs. Pending debounces and retries keep their timers.
   */
  async reload(config: Config): Promise<void> {
    this.config = config;
    this.login.setupOffers = undefined;
    this.log.level = config.logLevel;
    await this.triggers.arm(config);
    if (this.stopping) return;
    if (this.login.current) this.refresh.arm(this.login.current);
    this.event("info", "daemon.reloaded", "config reloaded");
    this.queue.full();
  }

  /** A store changed: ignore our own write; otherwise re-sync the agent, and answer a gateway marking. */
  private async onAgentChanged(agent: Agent, file: string): Promise<void> {
    if (await this.markings.isOwnWrite(file)) return;
    this.queue.agent(agent);
    const adapter = this.registry.adapter;
    const store = await adapter?.read(agent.dir).catch(() => undefined);
    if (!adapter || !store || !this.markings.isNewMarking(agent.dir, store, adapter, this.clock.now())) return;
    const profile = this.config.profileId;
    const stats = store.usageStats?.[profile];
    const msg = `the gateway marked ${profile} in ${agent.id}; asking claude for a fresh token`;
    this.event("info", "cooldown.gateway", msg, {
      agent: agent.id,
      profile,
      disabledReason: stats?.disabledReason,
      failureCounts: stats?.failureCounts,
    });
    this.refresh.maybe("gateway-marking", true);
  }

  /** Re-reads the source and runs a full pass only if it changed. */
  private async checkSource(): Promise<void> {
    if (this.queue.busy) return this.queue.full();
    const read = await this.login.read();
    if (!read || read.changed) this.queue.full();
  }

  /** The refresh-check schedule: re-read the sources (a keyring cannot be watched) and refresh if due. */
  private async checkRefresh(): Promise<void> {
    await this.checkSource();
    if (await this.login.loadSetupOffers()) this.queue.full();
    this.refresh.maybe("schedule");
  }

  /** Reconciles `only` those agents, or every agent; marks them instead when the source is unusable. */
  private async pass(only: Agent[] | undefined): Promise<PassResult | undefined> {
    const read = await this.login.read();
    // A pass for some agents that is first to see a new credential must take it to all of them: the
    // change is now consumed, and chokidar may have dropped the event that would have run a full pass.
    const agents =
      only && this.registry.adapter && !read?.changed
        ? await this.registry.present(only)
        : await this.registry.find(this.config, this.env);
    const adapter = this.registry.adapter;
    if (!agents || !adapter) return undefined;
    if (!this.login.setupOffers) await this.login.loadSetupOffers();
    const occurrence = !only && this.refresh.takeFreshFailure() ? "new" : "ongoing";
    const copies = agents.length * (1 + (this.login.setupOffers?.length ?? 0));
    const progress = new PassProgress(
      () => this.clock.now(),
      copies,
      (done, total) => this.problems.event("info", "sync.progress", `${done} of ${total} agents done`, { done, total }),
    );
    const result = await runPass({
      stores: { agents, adapter: this.markings.tracking(adapter) },
      config: this.config,
      login: read?.source,
      loginFailure: this.login.failure,
      refreshFailure: this.refresh.failure,
      setupOffers: this.login.setupOffers ?? [],
      cooldowns: this.registry.cooldowns,
      options: this.updateOptions(),
      occurrence,
      // Each agent's line is logged as it finishes, so a rotation is seen in every agent's log as it lands.
      onCopy: (offer, report) => {
        const expiresAt = offer.kind === "claude-login" ? read?.source?.expiresAt : undefined;
        logReport(this.problems, report, profileSecret(offer.profile), expiresAt);
        progress.done();
      },
    });
    this.noteResult(result, read?.source);
    this.tokenAlerts.check(
      this.login.setupOffers ?? [],
      this.registry.agents.map((a) => a.id),
      this.clock.now(),
    );
    await this.markings.learn(agents, adapter);
    // A pass that found everything in step keeps the summary of the last one that acted.
    const state = this.stateFile.state;
    if (passActed(result) || state.lastSyncSummary === undefined) {
      state.lastSyncAt = this.clock.now();
      const noLogin = this.login.failure?.needsLogin ? "not logged in" : this.login.failure?.message;
      state.lastSyncSummary = passSummary(result, noLogin);
    }
    await this.stateFile.save();
    this.refresh.maybe("expiry");
    return result;
  }

  private updateOptions(): UpdateOptions {
    return {
      lockTimeoutMs: this.config.lockTimeout,
      lockJournal: lockJournalPath(this.env),
      beforeWrite: (intent) => this.markings.remember(intent),
    };
  }

  /** Logs what a pass did besides each agent's result (logged as it finished): a recovery, a marking. */
  private noteResult(result: PassResult, login: SourceCredential | undefined): void {
    for (const { offer, reports } of result.copies) {
      if (offer.kind === "claude-login" && login !== undefined) this.outage.recovered(reports, login);
    }
    if (result.marking) this.outage.marked(result.marking.failure, result.marking.reports);
  }

  /** Binds the metrics server when configured; loaded only then, so prom-client costs nothing by default. */
  private async startMetrics(): Promise<void> {
    if (!this.config.metrics) return;
    const { startMetrics } = await import("../metrics/index.js");
    this.metrics = await startMetrics({
      config: () => this.config,
      env: this.env,
      daemon: () => ({ ...this.stateFile.state, running: true }),
      log: (level, event, msg, fields) => this.event(level, event, msg, fields),
    });
    // Attached after its own `metrics.listening` line, which is no problem to count.
    this.problems.observer = this.metrics;
  }

  private hook(event: HookEvent, reason: string, agents: string[]): void {
    void runEventHook(this.config.onEvent, event, { profile: this.config.profileId, reason, agents }, this.log);
  }

  private event(level: Level, event: LogEvent, msg: string, fields: Fields = {}): void {
    this.problems.event(level, event, msg, fields);
  }
}
