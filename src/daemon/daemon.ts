/**
 * The daemon only decides *when* to run the same pass as `sync`: on a change of the Claude credentials, on a
 * new or rewritten agent store, on the resync schedule, and when the token nears expiry (then it first asks
 * `claude` to refresh). Work is queued and run one pass at a time. When the source cannot give a usable
 * credential, our profile is marked with cooldowns the gateway honours; a fresh credential clears them.
 * This file wires the parts: triggers, the pass queue, the refresh scheduler, the outage tracker, the
 * report-to-log step and the state file each live in their own module.
 */
import path from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { messageOf } from "../core/errors.js";
import { type PassResult, passActed, passSummary } from "../pass/pass.js";
import { type RunLogin, run } from "../pass/run.js";
import { type ReloadReport, staleText } from "../pass/reload.js";
import { profileSecret } from "../reconcile/profile.js";
import { loginConfigs } from "../config/logins.js";
import { claudeCredentialsFile } from "../sources/index.js";
import type { UpdateOptions } from "../stores/adapter.js";
import type { Agent } from "../stores/discovery/agents.js";
import { configuredStateDirs } from "../stores/discovery/gateway.js";
import { fingerprint } from "../core/fingerprint.js";
import type { SourceCredential } from "../types.js";
import { FleetMember } from "../fleet/member.js";
import { readingOf, withFleetTokens } from "../fleet/published.js";
import { AgentRegistry } from "./agent-registry.js";
import { type Clock, systemClock } from "./clock.js";
import { type AgentRef, EventHooks, type HookEvent } from "./event-hook.js";
import { GatewayMarkings } from "./gateway-markings.js";
import { DaemonLogin, loginFields, loginScope } from "./daemon-login.js";
import { PassQueue } from "./pass-queue.js";
import { type Fields, type Level, ProblemLog } from "./problem-log.js";
import { agentNames, logReport } from "./report-log.js";
import { RecoveryLog } from "./recovery-log.js";
import { type LoginState, lockJournalPath } from "../runtime/files.js";
import { SetupTokenSource } from "./setup-token-source.js";
import { StateFile } from "./state-file.js";
import { Timers } from "./timers.js";
import { TokenExpiryAlerts } from "./token-expiry.js";
import { Triggers } from "./triggers.js";
import type { LogEvent } from "../log/logger.js";
import type { MetricsObserver, StartOptions } from "../metrics/index.js";

/** How long a stop waits for the pass in flight to finish its write. */
const STOP_WAIT_MS = 3_000;

export interface DaemonOptions {
  config: Config;
  logger: Logger;
  stateFile: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** Binds the metrics server (metrics/index.ts), called only when `metrics` is configured. */
  startMetrics?: (options: StartOptions) => Promise<MetricsObserver>;
}

export class Daemon {
  private config: Config;
  private readonly log: Logger;
  private readonly problems: ProblemLog;
  private readonly env: NodeJS.ProcessEnv;
  private readonly clock: Clock;
  private readonly timers: Timers;
  /** The onEvent hooks running; each is ended with its whole process group at stop. */
  private readonly hooks = new EventHooks();
  private readonly stateFile: StateFile;
  /** One per Claude login, keyed by profile id, in the configured order. */
  private logins = new Map<string, DaemonLogin>();
  private readonly registry: AgentRegistry;
  private readonly markings: GatewayMarkings;
  private readonly queue: PassQueue;
  private readonly triggers: Triggers;
  /** `token.expiring` and `token.expired`, said at most once a day per setup-token. */
  private readonly tokenAlerts: TokenExpiryAlerts;
  /** Failed refreshes said once until gone, recoveries as they happen. */
  private readonly recoveryLog = new RecoveryLog();
  /** The setup-tokens, synced with the last login. */
  private readonly setupTokens: SetupTokenSource;
  /** The metrics server, when `metrics` is configured (see startMetrics). */
  private metrics: MetricsObserver | undefined;
  private readonly metricsStarter: DaemonOptions["startMetrics"];
  private readonly shutdown = new AbortController();
  private stopping = false;
  /** This host in the fleet (docs/fleet.md), once joined; fleet mode is read at start, a reload keeps it. */
  private fleet: FleetMember | undefined;

  constructor(options: DaemonOptions) {
    this.config = options.config;
    this.log = options.logger;
    this.metricsStarter = options.startMetrics;
    const problems = (this.problems = new ProblemLog(options.logger));
    const env = (this.env = options.env ?? process.env);
    const clock = (this.clock = options.clock ?? systemClock);
    this.timers = new Timers(clock);
    this.setupTokens = new SetupTokenSource(() => this.config.setupTokenProfileId, env);
    this.stateFile = new StateFile(options.stateFile, problems, clock, process.pid);
    // A state dir found again (a volume mounted after start) is watched anew: a watch made on the folder
    // beneath a mount point sees nothing of what the mount brings.
    this.registry = new AgentRegistry(problems, lockJournalPath(env), (dir) => void this.rewatch(dir));
    this.markings = new GatewayMarkings(() => [...this.logins.keys()]);
    this.queue = new PassQueue(
      (only) =>
        this.pass(only).then(
          (result) => {
            this.metrics?.passDone(result);
            // A positive sign that the work asked for was done, even when it changed nothing (tests wait on it).
            const agents = only?.map((a) => this.registry.refOf(a).agent);
            const where = only ? `pass over ${agents!.join(", ")}` : "full pass";
            this.event("debug", "sync.done", `${where} done`, { full: only === undefined, ...(agents && { agents }) });
          },
          (err: unknown) => {
            this.metrics?.passDone(undefined);
            throw err;
          },
        ),
      (err) => this.event("error", "daemon.error", `pass failed: ${messageOf(err)}`),
      () => this.sourcesChanged(),
      () => this.event("debug", "sync.idle", "every pass asked for is done"),
    );
    this.buildLogins();
    this.tokenAlerts = new TokenExpiryAlerts(
      (level, event, msg, fields) => this.event(level, event, msg, fields),
      (event, facts) => void this.hooks.run(this.config.onEvent, event, facts, this.log),
    );
    this.triggers = new Triggers(
      this.timers,
      {
        credentials: (settled) => (settled ? void this.checkSources() : this.queue.sources()),
        gatewayConfig: () => this.queue.full(),
        agentStore: (agent, file) => void this.onAgentChanged(agent, file),
        sharedStore: (file) => {
          // Only the agents of the gateway whose shared store it is (several with stateDirs).
          const own = this.registry.agents.filter((agent) => file.startsWith(agent.stateDir + path.sep));
          for (const agent of own) void this.onAgentChanged(agent, file);
        },
        walIgnored: (file) =>
          this.event("debug", "watch.ignored", `${file} is gone or empty; nothing to read`, { file }),
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
    await this.stateFile.restore();
    await this.startMetrics();
    await this.joinFleet();
    const files = loginConfigs(this.config).map((login) => claudeCredentialsFile(login, this.env));
    // With stateDirs, every gateway it serves, there yet or not.
    const stateDirs = configuredStateDirs(this.config, this.env);
    const watching = `watching ${files.join(", ")}${stateDirs ? `; state dirs ${stateDirs.join(", ")}` : ""}`;
    const profiles = [...this.logins.keys()];
    const fields = { ...(this.config.logins ? { profiles } : {}), ...(stateDirs ? { stateDirs } : {}) };
    this.event("info", "daemon.started", watching, { profile: profiles[0], ...fields });
    // The watchers scan while the first pass runs; both are needed before the daemon is armed.
    const arming = this.triggers.arm(this.config);
    // Ready after the first pass, not when the queue empties: schedules that tick faster than a pass
    // (a store locked for the lock timeout) would keep the queue full and the daemon never ready.
    const firstPass = this.queue.nextPassDone();
    this.queue.full();
    await firstPass;
    const firstSyncMs = Math.round(performance.now() - started);
    // Ready once watching too: a gateway's marking written before the watchers are armed would be synced over by
    // the next pass, but never answered (only a watch event is taken for a marking).
    await arming;
    // The first passes (one more runs when the watchers saw something while scanning) are summed up by what acted.
    const summary = this.stateFile.state.lastSyncSummary ?? "nothing synced (see the error above)";
    this.event("info", "daemon.ready", `first sync done in ${firstSyncMs} ms: ${summary}`, { firstSyncMs, summary });
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
    const hooks = this.hooks.stop();
    for (const login of this.logins.values()) login.refresh.stop();
    const pass = this.queue.stop();
    await this.triggers.stop();
    const inFlight = Promise.all([pass, ...[...this.logins.values()].map((login) => login.refresh.inFlight)]);
    await Promise.race([
      Promise.all([inFlight, hooks]),
      new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref()),
    ]);
    // After the refresh in flight has published: resigning then hands each login to a standby at once.
    await this.fleet?.close().catch(() => undefined);
    await this.stateFile.save();
    this.event("info", "daemon.stopped", "stopped");
  }

  /**
   * Applies a new config (SIGHUP): watchers and schedules are rebuilt, the refresh timer follows the new
   * margin, then a full pass runs. Pending debounces and retries keep their timers.
   */
  async reload(config: Config): Promise<void> {
    // The fleet is joined once: its connection, keys and campaigns are not rebuilt under a running refresh.
    if (JSON.stringify(config.fleet) !== JSON.stringify(this.config.fleet))
      this.event("warn", "fleet.restart_needed", "the fleet settings changed: they apply at the next restart");
    this.config = { ...config, fleet: this.config.fleet };
    this.buildLogins();
    this.setupTokens.forget();
    this.log.level = config.logLevel;
    await this.triggers.arm(config);
    if (this.stopping) return;
    for (const { source, refresh } of this.logins.values()) if (source.current) refresh.arm(source.current);
    this.event("info", "daemon.reloaded", "config reloaded");
    this.queue.full();
  }

  /**
   * Joins the fleet when configured. A key that cannot be read stops the start with one line (every secret it
   * would publish depends on it); etcd not answering does not: the member retries on its own tick.
   */
  private async joinFleet(): Promise<void> {
    const fleet = this.config.fleet;
    // A state file kept from a run in fleet mode must not show that fleet as this run's.
    delete this.stateFile.state.fleet;
    if (!fleet) return;
    this.fleet = await FleetMember.create({
      fleet,
      env: this.env,
      clock: this.clock,
      timers: this.timers,
      log: this.problems,
      onChange: () => this.queue.full(),
      onView: (view) => {
        this.stateFile.state.fleet = view;
        if (!this.stopping) void this.stateFile.save();
      },
      onLeadership: (profileId, leads) => {
        const login = this.logins.get(profileId);
        if (leads && login) void login.source.read().then(() => login.refresh.maybe("fleet-elected"));
      },
    });
    await this.fleet.start();
    const member = this.fleet;
    const where = fleet.etcd.endpoints.join(", ");
    const role = member.canStandBy ? "stands by for the logins it holds" : "follows (no login key)";
    this.event("info", "fleet.joined", `joined the fleet at ${where} as ${member.host}; this host ${role}`, {
      host: member.host,
    });
  }

  /** Makes a state dir's watch anew, and says so once it is ready (tests wait on it before changing the volume). */
  private async rewatch(stateDir: string): Promise<void> {
    if (await this.triggers.rewatch(stateDir))
      this.event("debug", "watch.renewed", `watching ${stateDir} anew`, { stateDir });
  }

  /** A store changed: ignore our own write; otherwise re-sync the agent, and answer a gateway marking. */
  private async onAgentChanged(agent: Agent, file: string): Promise<void> {
    const ref = this.registry.refOf(agent);
    // A positive sign that the change was seen and decided on, even when nothing follows (tests wait on it).
    const handled = (own: boolean) =>
      this.event("debug", "watch.handled", `${file} changed${own ? " by our own write; ignored" : ""}`, {
        ...ref,
        file,
        own,
      });
    if (await this.markings.isOwnWrite(file)) return handled(true);
    this.queue.agent(agent);
    const adapter = this.registry.storesOf(agent)?.adapter;
    const store = await adapter?.read(agent.dir).catch(() => undefined);
    if (!adapter || !store) return handled(false);
    const now = this.clock.now();
    for (const login of this.logins.values()) {
      const profile = login.profileId;
      if (!this.markings.isNewMarking(agent.dir, store, adapter, now, profile)) continue;
      const stats = store.usageStats?.[profile];
      const msg = `the gateway marked ${profile} in ${agentNames([ref])}; asking claude for a fresh token`;
      login.problems.event("info", "cooldown.gateway", msg, {
        ...ref,
        profile,
        disabledReason: stats?.disabledReason,
        failureCounts: stats?.failureCounts,
      });
      login.refresh.maybe("gateway-marking", true);
    }
    handled(false);
  }

  /** Re-reads the sources and runs a full pass only if one changed (after the pass in flight, if any). */
  private async checkSources(): Promise<void> {
    if (this.queue.busy) return this.queue.sources();
    if (await this.sourcesChanged()) this.queue.full();
  }

  /** Re-reads every login: true when one changed or gives nothing (which a full pass marks). */
  private async sourcesChanged(): Promise<boolean> {
    const reads = await Promise.all([...this.logins.values()].map((login) => login.source.read()));
    return reads.some((read) => !read.login || read.changed);
  }

  /** The refresh-check schedule: re-read the sources (a keyring cannot be watched) and refresh if due. */
  private async checkRefresh(): Promise<void> {
    await this.checkSources();
    if (await this.setupTokens.load()) this.queue.full();
    for (const login of this.logins.values()) login.refresh.maybe("schedule");
  }

  /** The logins of the current config: kept when unchanged, so a reload keeps their backoff and outage. */
  private buildLogins(): void {
    const views = new Map(loginConfigs(this.config).map((view) => [view.profileId, view]));
    const next = new Map<string, DaemonLogin>();
    for (const [id, view] of views) {
      const kept = this.logins.get(id);
      if (kept && kept.config().claudeConfigDir === view.claudeConfigDir) {
        next.set(id, kept);
        continue;
      }
      kept?.refresh.stop();
      next.set(id, this.newLogin(id, view));
    }
    for (const [id, login] of this.logins) if (!next.has(id)) login.refresh.stop();
    this.views = views;
    this.logins = next;
    const state = this.stateFile.state;
    // A login kept across a reload keeps what it knew; a removed one is no longer reported.
    const known = new Map(state.logins?.map((entry) => [entry.profileId, entry]));
    if (this.config.logins) state.logins = [...views.keys()].map((profileId) => known.get(profileId) ?? { profileId });
    else delete state.logins;
  }

  /** The state file's entry of one login, with `logins` configured. */
  private loginState(profileId: string): LoginState | undefined {
    return this.stateFile.state.logins?.find((entry) => entry.profileId === profileId);
  }

  /** The views of the config per login, as now. */
  private views = new Map<string, Config>();

  private newLogin(id: string, initial: Config): DaemonLogin {
    const config = () => this.views.get(id) ?? initial;
    const isFirst = () => this.firstLogin().profileId === id;
    const login: DaemonLogin = new DaemonLogin({
      config,
      scope: loginScope(this.config, initial),
      fields: () => loginFields(this.config, config()),
      clock: this.clock,
      timers: this.timers,
      problems: this.problems,
      env: this.env,
      signal: this.shutdown.signal,
      fullPass: () => this.queue.full(),
      onSourceChange: (source) => {
        const seen = { fingerprint: fingerprint(source.accessToken), expiresAt: source.expiresAt };
        if (isFirst()) this.stateFile.state.source = seen;
        const state = this.loginState(id);
        if (state) state.source = seen;
      },
      onNextRefresh: (at) => {
        if (isFirst()) this.stateFile.state.nextRefreshAt = at;
        const state = this.loginState(id);
        if (state) state.nextRefreshAt = at;
      },
      onFailed: (failure, problems) => {
        this.problems.last = { at: this.clock.now(), event: "refresh.failed", message: failure.message };
        this.hook("refresh.failed", failure.message, this.registry.refs, problems === this.problems ? undefined : id);
      },
      hook: (event, reason, agents) => this.hook(event, reason, agents, this.config.logins ? id : undefined),
      saveState: () => this.stateFile.save(),
      loginEndTold: () => this.stateFile.state.loginEndTold?.[id],
      rememberLoginEnd: (told) => {
        (this.stateFile.state.loginEndTold ??= {})[id] = told;
        void this.stateFile.save();
      },
      agents: () => this.registry.refs,
      ...(this.config.fleet ? { fleet: () => this.fleet } : {}),
    });
    return login;
  }

  private firstLogin(): DaemonLogin {
    return this.logins.values().next().value!;
  }

  /** Reconciles `only` those agents, or every agent; marks them instead when the source is unusable. */
  private async pass(only: Agent[] | undefined): Promise<PassResult | undefined> {
    const logins = [...this.logins.values()];
    const units = new Map<RunLogin, DaemonLogin>();
    const done = await run({
      logins: logins.map((login) => {
        const unit: RunLogin = {
          config: login.config(),
          read: () => login.source.read(),
          refreshFailure: () => login.refresh.failure,
          // Only a full pass answers a fresh failure: one for some agents would leave the others unmarked.
          occurrence: () => (!only && login.refresh.takeFreshFailure() ? "new" : "ongoing"),
        };
        units.set(unit, login);
        return unit;
      }),
      setupTokens: async () => withFleetTokens(await this.setupTokens.current(), this.fleet?.setupTokens() ?? []),
      gateways: async (reads) => {
        // A pass for some agents that is first to see a new credential must take it to all of them: the
        // change is now consumed, and chokidar may have dropped the event that would have run a full pass.
        const changed = reads.some((read) => read.changed);
        // Only agents of gateways served now: an event from a state dir not found yet needs the full find.
        const served = only !== undefined && only.every((agent) => this.registry.storesOf(agent));
        const gateways =
          served && !changed
            ? this.registry.select(this.registry.present(only))
            : await this.registry.find(this.config, this.env);
        return gateways?.map((g) => ({ ...g, adapter: this.markings.tracking(g.adapter) }));
      },
      options: this.updateOptions(),
      // Each agent's line is logged as it finishes, so a rotation is seen in every agent's log as it lands.
      onCopy: (unit, offer, report) => {
        const login = offer.kind === "claude-login" ? units.get(unit) : undefined;
        const expiresAt = login?.source.current?.expiresAt;
        logReport(login ? login.problems : this.problems, report, profileSecret(offer.profile), expiresAt);
      },
      onProgress: (done, total) =>
        this.problems.event("info", "sync.progress", `${done} of ${total} agents done`, { done, total }),
      now: () => this.clock.now(),
      env: this.env,
    });
    if (!done) return undefined;
    for (const [i, part] of done.logins.entries()) {
      const login = logins[i]!;
      this.noteResult(login, part.pass, part.login);
      login.end.check();
      if (part.pass.recovery && part.login)
        this.recoveryLog.note(login.problems, part.pass.recovery, part.login, login.config().autoRecover);
    }
    const { result } = done;
    this.noteReloads(result.reloads ?? []);
    this.tokenAlerts.check(done.setupOffers, this.registry.refs, this.clock.now());
    for (const g of done.gateways) await this.markings.learn(g.agents, g.adapter);
    // A pass that found everything in step keeps the summary of the last one that acted.
    const state = this.stateFile.state;
    if (passActed(result) || state.lastSyncSummary === undefined) {
      state.lastSyncAt = this.clock.now();
      const failures = logins.filter((login) => login.source.failure);
      const noLogin = failures.length === logins.length ? noLoginText(failures[0]!) : undefined;
      state.lastSyncSummary = passSummary(result, noLogin);
    }
    if (this.fleet) {
      this.fleet.noteSync(this.clock.now(), state.lastSyncSummary);
      state.fleet = this.fleet.snapshot();
    }
    await this.stateFile.save();
    for (const login of logins) login.refresh.maybe("expiry");
    return result;
  }

  private updateOptions(): UpdateOptions {
    return {
      lockTimeoutMs: this.config.lockTimeout,
      lockJournal: lockJournalPath(this.env),
      beforeWrite: (intent) => this.markings.remember(intent),
    };
  }

  /** A running gateway left without our writes is logged once, and once more when a later reload reaches it. */
  private noteReloads(reloads: readonly ReloadReport[]): void {
    for (const { stateDir, reload } of reloads) {
      const key = `gateway-reload:${reload.dir}`;
      const where = stateDir === undefined ? {} : { stateDir };
      if (reload.result === "not-reloaded") {
        const msg = staleText(reload, stateDir);
        this.problems.problem(key, "warn", "gateway.not_reloaded", msg, { ...where, agents: reload.agents });
      } else this.problems.clear(key, "gateway.reloaded", "the running gateway picked up our writes", where);
    }
  }

  /** Logs what a pass did besides each agent's result (logged as it finished): a recovery, a marking. */
  private noteResult(unit: DaemonLogin, result: PassResult, login: SourceCredential | undefined): void {
    for (const { offer, reports } of result.copies) {
      if (offer.kind === "claude-login" && login !== undefined) unit.outage.recovered(reports, login);
    }
    if (result.marking) unit.outage.marked(result.marking.failure, result.marking.reports);
  }

  /** Binds the metrics server when configured and given one (cli/run.ts loads it only then). */
  private async startMetrics(): Promise<void> {
    if (!this.config.metrics || !this.metricsStarter) return;
    this.metrics = await this.metricsStarter({
      config: () => this.config,
      env: this.env,
      daemon: () => ({ ...this.stateFile.state, running: true }),
      log: (level, event, msg, fields) => {
        this.problems.forget("metrics");
        this.event(level, event, msg, fields);
      },
      problem: (msg, fields) => this.problems.problem("metrics", "warn", "metrics.unavailable", msg, fields),
      retry: (delayMs, bind) => this.timers.set("metrics-bind", delayMs, bind),
      fleet: () => this.fleet && readingOf(this.fleet),
      serving: (metrics) => {
        this.stateFile.state.metrics = metrics;
        if (!this.stopping) void this.stateFile.save();
      },
    });
    // Attached after its own `metrics.listening` line, which is no problem to count.
    this.problems.observer = this.metrics;
  }

  /** `profile` names the login the event is about; the single login's is the config's profile. */
  private hook(event: HookEvent, reason: string, agents: readonly AgentRef[], profile = this.config.profileId): void {
    void this.hooks.run(this.config.onEvent, event, { profile, reason, agents }, this.log);
  }

  private event(level: Level, event: LogEvent, msg: string, fields: Fields = {}): void {
    this.problems.event(level, event, msg, fields);
  }
}

/** Why a login gave nothing, in a few words for the summary. */
function noLoginText(login: DaemonLogin): string | undefined {
  const failure = login.source.failure;
  return failure?.needsLogin ? "not logged in" : failure?.message;
}
