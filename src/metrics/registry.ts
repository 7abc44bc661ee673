/**
 * The daemon's Prometheus metrics. Counters follow the daemon's log events and passes as they happen; the
 * per-profile gauges are read from a fresh status report at every scrape, so they are never stale. This file
 * (and so prom-client) is loaded only when `metrics` is configured.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { LogEvent } from "../log/logger.js";
import { scrubSecrets } from "../log/logger.js";
import type { PassResult } from "../pass/pass.js";
import { passReports } from "../pass/pass.js";
import type { StatusReport } from "../report/collect-status.js";
import { type PassOutcome, passOutcome, usability } from "./health.js";

const PREFIX = "moltbot_auth_sync_";
/** A label value comes from a store file: bounded, and scrubbed like log text. */
const MAX_LABEL = 64;
const label = (value: string | undefined) => scrubSecrets(value ?? "").slice(0, MAX_LABEL);

const REFRESH_RESULTS: Partial<Record<LogEvent, string>> = {
  "refresh.succeeded": "refreshed",
  "refresh.unneeded": "unneeded",
  "refresh.failed": "failed",
};

export class Metrics {
  readonly registry = new Registry();
  /** The last pass's outcome; undefined until one has finished. */
  lastPass: PassOutcome | undefined;

  private readonly passes = this.counter("passes_total", "Passes run, by result (ok or failed).", ["result"]);
  private readonly syncs = this.counter(
    "syncs_total",
    "Agent results of every pass: written, unchanged, marked, cleared, skipped, failed.",
    ["result"],
  );
  private readonly failures = this.counter(
    "failures_total",
    "Problems that began (each warn or error log line), by its event.",
    ["code"],
  );
  private readonly refreshes = this.counter("refresh_attempts_total", "Runs of claude to refresh the login.", [
    "result",
  ]);
  private readonly markings = this.counter(
    "markings_total",
    "Agents in which our profile was marked, by who marked it (daemon or gateway).",
    ["by"],
  );
  private readonly recoveries = this.counter("recoveries_total", "Outages ended by fresh credentials.", []);
  private readonly lastSuccess = this.gauge(
    "last_success_timestamp_seconds",
    "When the last pass that succeeded finished (Unix seconds).",
    [],
  );
  private readonly expiry = this.gauge(
    "profile_expiry_seconds",
    "Seconds until the profile's credential expires (negative once expired).",
    ["profile"],
  );
  private readonly loginEnd = this.gauge(
    "login_end_timestamp_seconds",
    "When the Claude login reaches its hard end and must be signed in again (Unix seconds), when claude records it.",
    ["profile"],
  );
  private readonly usable = this.gauge(
    "profile_usable",
    "1 when the agent holds the profile usable; 0 with kind and reason when not.",
    // state_dir only with stateDirs configured: every gateway has a `main`.
    ["agent", "state_dir", "profile", "kind", "reason"],
  );
  private readonly gatewayUp = this.gauge(
    "gateway_up",
    "With stateDirs: 1 when the state dir's gateway was found and read, 0 when it is missing or unreadable.",
    ["state_dir"],
  );
  private readonly healthy = this.gauge("healthy", "1 when /healthz answers 200.", []);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Known label values start at 0, so a rate() or an alert sees the series before its first increment.
    for (const result of ["ok", "failed"]) this.passes.inc({ result }, 0);
    for (const result of Object.values(REFRESH_RESULTS)) this.refreshes.inc({ result }, 0);
    for (const by of ["daemon", "gateway"]) this.markings.inc({ by }, 0);
  }

  private counter(name: string, help: string, labelNames: string[]): Counter {
    return new Counter({ name: `${PREFIX}${name}`, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: string[]): Gauge {
    return new Gauge({ name: `${PREFIX}${name}`, help, labelNames, registers: [this.registry] });
  }

  /** Every log event of the daemon passes here; it must never throw into the daemon. */
  observe(level: string, event: LogEvent, fields: Record<string, unknown>): void {
    if (level === "warn" || level === "error") this.failures.inc({ code: event });
    const refresh = REFRESH_RESULTS[event];
    if (refresh) this.refreshes.inc({ result: refresh });
    if (event === "cooldown.marked") {
      const agents = Array.isArray(fields.agents) ? fields.agents.length : 1;
      this.markings.inc({ by: "daemon" }, agents);
    }
    if (event === "cooldown.gateway") this.markings.inc({ by: "gateway" });
    if (event === "recovered") this.recoveries.inc();
  }

  /** A pass finished: `result` is undefined when it could not reach the agents. */
  passDone(result: PassResult | undefined, now = Date.now()): void {
    const outcome = passOutcome(result, now);
    this.lastPass = outcome;
    this.passes.inc({ result: outcome.ok ? "ok" : "failed" });
    for (const report of result ? passReports(result) : []) this.syncs.inc({ result: report.result });
    if (outcome.ok) this.lastSuccess.set(now / 1000);
  }

  /** Sets the gauges from a status report (or clears them when none could be made) and renders the text. */
  async render(report: StatusReport | Error, healthy: boolean): Promise<string> {
    this.expiry.reset();
    this.loginEnd.reset();
    this.usable.reset();
    this.gatewayUp.reset();
    this.healthy.set(healthy ? 1 : 0);
    if (!(report instanceof Error)) {
      for (const g of report.gateways ?? []) this.gatewayUp.set({ state_dir: g.stateDir.dir }, "error" in g ? 0 : 1);
      for (const [profile, at] of expiries(report)) this.expiry.set({ profile }, (at - report.now) / 1000);
      for (const [profile, at] of loginEnds(report)) this.loginEnd.set({ profile }, at / 1000);
      for (const u of usability(report)) {
        const labels = {
          agent: label(u.agent),
          ...(u.stateDir === undefined ? {} : { state_dir: u.stateDir }),
          profile: u.profile,
          kind: label(u.kind),
          reason: label(u.reason),
        };
        this.usable.set(labels, u.usable ? 1 : 0);
      }
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Per profile, when it expires: the login's from the source, a setup-token's as the agents hold it. */
function expiries(report: StatusReport): Map<string, number> {
  const at = new Map<string, number>();
  if (report.source.ok) at.set(report.profile, report.source.expiresAt);
  for (const agent of report.agents) {
    for (const p of agent.profiles) {
      if (p.expires === undefined || at.has(p.profileId)) continue;
      at.set(p.profileId, p.expires);
    }
  }
  return at;
}

/** Per login's profile, its hard end, where the source records one. */
function loginEnds(report: StatusReport): Array<[string, number]> {
  const logins = report.logins ?? [{ profileId: report.profile, source: report.source }];
  return logins.flatMap(({ profileId, source }) =>
    source.ok && source.loginEndsAt !== undefined ? [[profileId, source.loginEndsAt] as [string, number]] : [],
  );
}
