/**
 * The daemon only decides *when* to run the same pass as `sync`: on a change of the Claude credentials, on a
 * new or rewritten agent store, on the resync schedule, and when the token nears expiry (then it first asks
 * `claude` to refresh). Work is queued and run one pass at a time; a problem is logged once, not per tick.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { FSWatcher } from "chokidar";
import { schedule, type ScheduledTask } from "node-cron";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { formatRelative } from "../duration.js";
import { SourceError, messageOf } from "../errors.js";
import { fingerprint } from "../fingerprint.js";
import type { LogEvent } from "../log.js";
import { desiredProfile } from "../reconcile.js";
import { readClaudeLogin } from "../sources/index.js";
import { claudeConfigDir, CREDENTIALS_FILENAME } from "../sources/claude-cli-file.js";
import { AUTH_PROFILES_FILENAME, type Agent } from "../stores/agents.js";
import { type AgentReport, syncAgents } from "../sync.js";
import { resolveTargets, storeFile } from "../targets.js";
import type { SourceCredential } from "../types.js";
import { backoffDelay } from "./backoff.js";
import { claudeAuthStatus, claudeEnv, refreshArgv, runClaude } from "./claude-runner.js";
import { type DaemonState, writeDaemonState } from "./runtime-files.js";
import { watchFolder, watcherReady } from "./watch.js";

/** Bursts (a tmp write then a rename, a gateway rewrite) collapse into one pass within this window. */
const DEBOUNCE_MS = 10;
/**
 * chokidar drops a second `change` of the same file within 50 ms, with no trailing event; a write that
 * lands right after ours (or a CLI that saves twice) would go unseen. One more look after that window.
 */
const TRAILING_CHECK_MS = 75;
const REFRESH_BACKOFF = { baseMs: 15_000, capMs: 10 * 60_000 };
/** setTimeout's limit; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a stop waits for the pass in flight to finish its write. */
const STOP_WAIT_MS = 3_000;

const AGENT_PATH = /^agents\/([^/]+)(?:\/agent(?:\/([^/]+))?)?$/;
const GATEWAY_CONFIGS = new Set(["openclaw.json", "moltbot.json", "clawdbot.json", "moldbot.json"]);

export interface DaemonOptions {
  config: Config;
  logger: Logger;
  stateFile: string;
  env?: NodeJS.ProcessEnv;
}

export class Daemon {
  private config: Config;
  private readonly log: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly stateFile: string;
  private readonly state: DaemonState;

  private watchers: FSWatcher[] = [];
  private tasks: ScheduledTask[] = [];
  private timers = new Map<string, NodeJS.Timeout>();

  private pendingFull = false;
  private pendingAgents = new Map<string, Agent>();
  private worker: Promise<void> | undefined;

  private source: SourceCredential | undefined;
  /** Open problems by key, with what was logged, so each is logged once until it clears. */
  private problems = new Map<string, { msg: string; level: string }>();
  /** What we last wrote per store, to recognise the watcher events of our own writes. */
  private written = new Map<string, string>();
  private knownAgents = new Set<string>();

  private refreshing: Promise<void> | undefined;
  private refreshAttempt = 0;
  private refreshNotBefore = 0;
  private readonly shutdown = new AbortController();
  private stopping = false;

  constructor(options: DaemonOptions) {
    this.config = options.config;
    this.log = options.logger;
    this.env = options.env ?? process.env;
    this.stateFile = options.stateFile;
    const now = Date.now();
    this.state = { pid: process.pid, startedAt: now, updatedAt: now };
  }

  /** Runs the first pass, then arms watchers and schedules. Resolves once the daemon is fully armed. */
  async start(): Promise<void> {
    const started = performance.now();
    this.event("info", "daemon.started", `watching ${this.credentialsFile()}`, { profile: this.config.profileId });
    const watching = this.startWatchers();
    this.enqueueFull();
    await this.worker;
    this.event("info", "daemon.ready", `first sync done in ${Math.round(performance.now() - started)} ms`, { firstSyncMs: Math.round(performance.now() - started) });
    await watching;
    this.startSchedules();
    // Anything that changed while the watchers were still scanning is picked up here.
    this.enqueueFull();
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.event("info", "daemon.stopping", `stopping (${reason})`, { reason });
    this.shutdown.abort();
    await this.stopComponents();
    const inFlight = Promise.all([this.worker, this.refreshing]);
    await Promise.race([inFlight, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
    await this.saveState();
    this.event("info", "daemon.stopped", "stopped");
  }

  /** Applies a new config (SIGHUP): watchers and schedules are rebuilt, then a full pass runs. */
  async reload(config: Config): Promise<void> {
    await this.stopComponents();
    this.config = config;
    this.log.level = config.logLevel;
    await this.startWatchers();
    this.startSchedules();
    if (this.source) this.armRefreshTimer(this.source);
    if (this.refreshNotBefore > Date.now()) this.setTimer("refresh-retry", this.refreshNotBefore - Date.now(), () => this.maybeRefresh("retry"));
    this.event("info", "daemon.reloaded", "config reloaded");
    this.enqueueFull();
  }

  /** Resolves when no pass is queued or running; for tests and benchmarks. */
  async idle(): Promise<void> {
    while (this.worker) await this.worker;
  }

  // ── triggers ──────────────────────────────────────────────────────────────

  private credentialsFile(): string {
    return path.join(claudeConfigDir(this.config.claudeConfigDir, this.env), CREDENTIALS_FILENAME);
  }

  private async startWatchers(): Promise<void> {
    const onError = (err: Error) => this.problem("watch", "warn", "watch.error", `file watch failed: ${err.message}`, {});
    const credentials = watchFolder(path.dirname(this.credentialsFile()), {
      depth: 0,
      accept: (rel) => rel === CREDENTIALS_FILENAME,
      onEvent: () => {
        this.debounce("source", () => this.enqueueFull());
        this.setTimer("source:trailing", TRAILING_CHECK_MS, () => void this.checkSource());
      },
      onError,
    });
    const targets = await resolveTargets(this.config, this.env).catch(() => undefined);
    const watchers = [credentials];
    if (targets) {
      const stateDir = targets.stateDir.dir;
      watchers.push(
        watchFolder(stateDir, {
          depth: 3,
          accept: (rel) => GATEWAY_CONFIGS.has(rel) || rel === "agents" || AGENT_PATH.test(rel),
          onEvent: (event, file) => this.onStateDirEvent(stateDir, event, file),
          onError,
        }),
      );
    }
    this.watchers = watchers;
    await Promise.all(watchers.map(watcherReady));
  }

  private onStateDirEvent(stateDir: string, event: string, file: string): void {
    const rel = path.relative(stateDir, file).split(path.sep).join("/");
    if (GATEWAY_CONFIGS.has(rel)) return this.debounce("gateway-config", () => this.enqueueFull());
    const match = AGENT_PATH.exec(rel);
    if (!match || (match[2] !== undefined && match[2] !== AUTH_PROFILES_FILENAME)) return;
    if (event === "unlinkDir" && match[2] === undefined) return;
    const id = match[1]!;
    const agent: Agent = { id, dir: path.join(stateDir, "agents", id, "agent"), from: "disk" };
    this.debounce(`agent:${agent.dir}`, () => void this.onAgentChanged(agent));
    this.setTimer(`agent:${agent.dir}:trailing`, TRAILING_CHECK_MS, () => void this.onAgentChanged(agent));
  }

  private async onAgentChanged(agent: Agent): Promise<void> {
    const file = storeFile(agent);
    const ours = this.written.get(file);
    if (ours !== undefined && (await readFile(file, "utf8").catch(() => undefined)) === ours) return;
    this.pendingAgents.set(agent.dir, agent);
    this.kick();
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
    if ((await this.readSource())?.changed) this.enqueueFull();
  }

  /** The refresh-check schedule: re-read the source (a Keychain cannot be watched) and refresh if due. */
  private async checkRefresh(): Promise<void> {
    await this.checkSource();
    this.maybeRefresh("schedule");
  }

  private async stopComponents(): Promise<void> {
    for (const task of this.tasks) task.destroy();
    this.tasks = [];
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
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
      setTimeout(() => {
        this.timers.delete(key);
        fn();
      }, Math.max(0, Math.min(delayMs, MAX_TIMER_MS))),
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
      try {
        await this.pass(full ? undefined : agents);
      } catch (err) {
        this.event("error", "daemon.error", `pass failed: ${messageOf(err)}`);
      }
    }
  }

  // ── the pass ──────────────────────────────────────────────────────────────

  /** Reads the source and reconciles `only` those agents, or every agent. */
  private async pass(only: Agent[] | undefined): Promise<void> {
    const source = (await this.readSource())?.source;
    if (!source) return;
    let agents = only;
    if (!agents) {
      const targets = await resolveTargets(this.config, this.env).catch((err: Error) => {
        this.problem("targets", "error", "sync.failed", messageOf(err), {});
        return undefined;
      });
      if (!targets) return;
      this.clearProblem("targets", "store.recovered", "state dir found again", {});
      if (targets.gatewayConfig?.error) this.problem("gateway-config", "warn", "daemon.error", `gateway config ${targets.gatewayConfig.file} cannot be parsed (${targets.gatewayConfig.error}); using the agents found on disk`, {});
      else this.problems.delete("gateway-config");
      agents = targets.agents;
    }
    const firstPass = this.knownAgents.size === 0 && !only;
    for (const agent of agents) {
      if (!this.knownAgents.has(agent.dir)) {
        if (!firstPass) this.event("info", "agent.added", `new agent ${agent.id}`, { agent: agent.id });
        this.knownAgents.add(agent.dir);
      }
    }
    const reports = await syncAgents(agents, this.config.profileId, desiredProfile(source, this.config.credentialType), { lockRetries: this.config.lockRetries });
    for (const report of reports) this.logReport(report, source);
    this.state.lastSyncAt = Date.now();
    this.state.lastSyncSummary = summarize(reports);
    await this.saveState();
    this.maybeRefresh("expiry");
  }

  private async readSource(): Promise<{ source: SourceCredential; changed: boolean } | undefined> {
    let source: SourceCredential;
    try {
      source = await readClaudeLogin(this.config, this.env);
    } catch (err) {
      const missing = err instanceof SourceError && err.problem === "not_logged_in";
      this.problem("source", missing ? "warn" : "error", missing ? "source.missing" : "source.invalid", messageOf(err), {});
      this.source = undefined;
      return undefined;
    }
    this.clearProblem("source", "source.recovered", `credentials readable again: ${fingerprint(source.accessToken)}`, {});
    const previous = this.source;
    this.source = source;
    const changed = !previous || previous.accessToken !== source.accessToken || previous.expiresAt !== source.expiresAt;
    if (changed) {
      const at = Date.now();
      this.event("info", "source.changed", `${fingerprint(source.accessToken)} expires ${formatRelative(source.expiresAt, at)}`, {
        fingerprint: fingerprint(source.accessToken),
        expiresAt: source.expiresAt,
      });
      this.state.source = { fingerprint: fingerprint(source.accessToken), expiresAt: source.expiresAt };
      this.armRefreshTimer(source);
    }
    return { source, changed };
  }

  private logReport(report: AgentReport, source: SourceCredential): void {
    const fields = { agent: report.agent, profile: report.profile };
    for (const warning of report.warnings) this.event("warn", "store.permissions", warning, fields);
    const key = `store:${report.file}`;
    switch (report.result) {
      case "written":
        if (report.content !== undefined) this.written.set(report.file, report.content);
        this.clearProblem(key, "store.recovered", `${report.agent} writable again`, fields);
        this.event("info", "sync.written", `${report.agent}: ${report.reason} ${fingerprint(source.accessToken)}`, { ...fields, fingerprint: fingerprint(source.accessToken), expiresAt: source.expiresAt });
        break;
      case "unchanged":
        this.clearProblem(key, "store.recovered", `${report.agent} readable again`, fields);
        this.event("debug", "sync.unchanged", `${report.agent}: unchanged`, fields);
        break;
      case "skipped":
        this.problem(key, "info", "sync.skipped", `${report.agent}: ${report.reason}`, fields);
        break;
      case "failed": {
        const event: LogEvent = report.code === "store.locked" ? "store.locked" : report.code === "store.invalid" ? "store.invalid" : report.code === "store.unwritable" ? "store.unwritable" : "sync.failed";
        this.problem(key, "warn", event, report.reason ?? "failed", fields);
        break;
      }
    }
  }

  // ── refresh through claude ────────────────────────────────────────────────

  /** Arms a timer for exactly `expiresAt - refreshMargin`, so the daemon acts on time whatever the crons say. */
  private armRefreshTimer(source: SourceCredential): void {
    const at = source.expiresAt - this.config.refreshMargin;
    this.state.nextRefreshAt = at;
    this.event("debug", "refresh.scheduled", `refresh due ${formatRelative(at, Date.now())}`, { at });
    this.setTimer("refresh", at - Date.now(), () => (Date.now() >= at ? this.maybeRefresh("timer") : this.source && this.armRefreshTimer(this.source)));
  }

  private maybeRefresh(trigger: string): void {
    const source = this.source;
    if (!source || this.refreshing || this.stopping) return;
    const now = Date.now();
    if (now < source.expiresAt - this.config.refreshMargin || now < this.refreshNotBefore) return;
    this.refreshing = this.refresh(source, trigger).finally(() => (this.refreshing = undefined));
  }

  private async refresh(before: SourceCredential, trigger: string): Promise<void> {
    const [file, args] = refreshArgv(this.config);
    const env = claudeEnv(this.config, this.env);
    this.event("info", "refresh.started", `asking claude to refresh ${fingerprint(before.accessToken)} (expires ${formatRelative(before.expiresAt, Date.now())})`, {
      trigger,
      attempt: this.refreshAttempt + 1,
    });
    const run = await runClaude(file, args, { env, timeoutMs: this.config.refreshTimeout, signal: this.shutdown.signal });
    if (this.stopping) return;
    const after = await readClaudeLogin(this.config, this.env).catch(() => undefined);
    if (after && after.expiresAt > before.expiresAt) {
      this.refreshAttempt = 0;
      this.refreshNotBefore = 0;
      this.event("info", "refresh.succeeded", `claude refreshed: ${fingerprint(after.accessToken)} expires ${formatRelative(after.expiresAt, Date.now())}`, {
        durationMs: run.durationMs,
        expiresAt: after.expiresAt,
      });
      this.enqueueFull();
      return;
    }
    this.refreshAttempt += 1;
    const delay = backoffDelay(this.refreshAttempt, REFRESH_BACKOFF);
    this.refreshNotBefore = Date.now() + delay;
    const why = run.spawnError
      ? `cannot run ${file}: ${run.spawnError}`
      : run.timedOut
        ? `claude did not finish within ${Math.round(this.config.refreshTimeout / 1000)} s and was killed`
        : await this.explainNoRefresh(run.exitCode, env);
    this.event("warn", "refresh.failed", `${why}; retry in ${Math.round(delay / 1000)} s`, {
      trigger,
      attempt: this.refreshAttempt,
      exitCode: run.exitCode,
      timedOut: run.timedOut,
      retryInMs: delay,
      output: run.output.slice(-300),
    });
    this.state.lastError = { at: Date.now(), event: "refresh.failed", message: why };
    await this.saveState();
    this.setTimer("refresh-retry", delay, () => this.maybeRefresh("retry"));
  }

  private async explainNoRefresh(exitCode: number | undefined, env: NodeJS.ProcessEnv): Promise<string> {
    const auth = await claudeAuthStatus(this.config, env, this.shutdown.signal);
    if (auth && !auth.loggedIn) return "claude is not logged in: run `claude` and /login, or use a setup-token";
    return `claude exited ${exitCode ?? "?"} and the token did not change`;
  }

  // ── logging and state ─────────────────────────────────────────────────────

  private event(level: "debug" | "info" | "warn" | "error", event: LogEvent, msg: string, fields: Record<string, unknown> = {}): void {
    this.log[level]({ event, ...fields }, msg);
  }

  /** Logs a problem once per distinct message until `clearProblem` is called for its key. */
  private problem(key: string, level: "info" | "warn" | "error", event: LogEvent, msg: string, fields: Record<string, unknown>): void {
    if (this.problems.get(key)?.msg === msg) return;
    this.problems.set(key, { msg, level });
    this.event(level, event, msg, fields);
    if (level !== "info") this.state.lastError = { at: Date.now(), event, message: msg };
  }

  private clearProblem(key: string, event: LogEvent, msg: string, fields: Record<string, unknown>): void {
    const open = this.problems.get(key);
    if (!open) return;
    this.problems.delete(key);
    if (open.level !== "info") this.event("info", event, msg, fields);
  }

  private async saveState(): Promise<void> {
    this.state.updatedAt = Date.now();
    try {
      await writeDaemonState(this.stateFile, this.state);
      this.problems.delete("state-file");
    } catch (err) {
      this.problem("state-file", "warn", "daemon.error", `cannot write ${this.stateFile}: ${messageOf(err)}`, {});
    }
  }
}

function summarize(reports: readonly AgentReport[]): string {
  const counts = new Map<string, number>();
  for (const r of reports) counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
  return [...counts].map(([result, n]) => `${n} ${result}`).join(", ");
}
