/**
 * One outage of our profile, from the first marking since the credentials were last good to the pass that
 * cleared its markings: `cooldown.marked` per marking, `needs_login` once per incident however its wording
 * varies, and `recovered` with how long it lasted; the hook hears the incident's start and end.
 */
import { formatDuration } from "../core/duration.js";
import { fingerprint } from "../core/fingerprint.js";
import type { AgentReport } from "../pass/apply.js";
import { type Failure, loginFixOf, markingKind } from "../reconcile/failure.js";
import type { SourceCredential } from "../types.js";
import type { Clock } from "./clock.js";
import type { AgentRef, HookEvent } from "./event-hook.js";
import type { ProblemLog } from "./problem-log.js";
import { agentNames, agentsFields, logReport } from "./report-log.js";

export interface OutageOptions {
  clock: Clock;
  problems: ProblemLog;
  profileId: () => string;
  hook: (event: HookEvent, reason: string, agents: readonly AgentRef[]) => void;
}

export class OutageTracker {
  /** When the current outage began; undefined while there is none. */
  private since: number | undefined;

  constructor(private readonly options: OutageOptions) {}

  /** Logs what marking our profile did, once per change of problem. */
  marked(failure: Failure, reports: readonly AgentReport[]): void {
    const { problems } = this.options;
    const profile = this.options.profileId();
    this.since ??= this.options.clock.now();
    for (const report of reports) logReport(problems, report);
    const marked = reports.filter((r) => r.result === "marked");
    if (marked.length > 0) {
      const msg = `${profile} ${markingKind(failure)} in ${agentNames(marked)}: ${failure.message}`;
      problems.event("warn", "cooldown.marked", msg, { profile, reason: failure.reason, ...agentsFields(marked) });
    }
    // Once per incident, however its wording varies: the incident ends only with `recovered`.
    if (failure.needsLogin && !problems.isOpen("needs_login")) {
      this.options.hook("needs_login", failure.message, marked);
      const msg = `Claude login needs a person: ${failure.message}. Fix: ${loginFixOf(failure)}`;
      problems.problem("needs_login", "error", "needs_login", msg, { profile, reason: failure.reason });
    }
  }

  /** A fresh credential cleared markings somewhere: log `recovered` with how long it lasted. */
  recovered(reports: readonly AgentReport[], login: SourceCredential): void {
    const recovered = reports.filter((r) => r.recovered);
    if (recovered.length === 0) return;
    const profile = this.options.profileId();
    const since = Math.min(this.since ?? Infinity, ...recovered.map((r) => r.recovered?.since ?? Infinity));
    const lasted = Number.isFinite(since) ? this.options.clock.now() - since : undefined;
    const agents = recovered;
    this.options.problems.forget("needs_login");
    const after = lasted !== undefined ? ` after ${formatDuration(lasted)}` : "";
    const cleared = `markings cleared in ${agentNames(agents)}`;
    const msg = `${profile} usable again with ${fingerprint(login.accessToken)}${after}; ${cleared}`;
    this.options.problems.event("info", "recovered", msg, {
      profile,
      ...agentsFields(agents),
      ...(lasted !== undefined ? { outageMs: lasted } : {}),
    });
    this.since = undefined;
    this.options.hook("recovered", "fresh credentials", agents);
  }
}
