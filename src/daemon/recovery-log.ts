/**
 * What a pass's recovery step (pass/recover.ts) did and found, as log events: each recovery once, as it happens; a
 * failed refresh left as it is once until it is gone; a pending one at debug, on each pass that meets it.
 */
import { fingerprint } from "../core/fingerprint.js";
import { type RecoveryResult, groupUnrecovered, unrecoveredText } from "../pass/recover.js";
import { agentName } from "../stores/discovery/gateway.js";
import type { SourceCredential } from "../types.js";
import type { ProblemLog } from "./problem-log.js";
import { logReport } from "./report-log.js";

export class RecoveryLog {
  /** Per login's log: the failed refreshes logged as left, by key, so that each is logged once and its end once. */
  private readonly logged = new Map<ProblemLog, Map<string, string>>();

  note(problems: ProblemLog, result: RecoveryResult, login: SourceCredential, auto: boolean): void {
    const open = this.logged.get(problems) ?? new Map<string, string>();
    this.logged.set(problems, open);
    const recoveredNow = new Set<string>();
    for (const report of result.reports) {
      const fields = { agent: report.agent, ...where(report.stateDir), profile: report.profile };
      if (result.switched.includes(report)) {
        recoveredNow.add(key(report.stateDir, report.profile));
        const msg = `${agentName(report.agent, report.stateDir)}: ${report.profile} ${report.reason}`;
        problems.event("info", "fence.recovered", msg, { ...fields, fingerprint: fingerprint(login.accessToken) });
      } else if (report.result === "skipped") {
        const msg = `${agentName(report.agent, report.stateDir)}: ${report.profile} not kept: ${report.reason}`;
        problems.problem(`fence-skip:${report.file}:${report.profile}`, "info", "sync.skipped", msg, fields);
      } else if (report.result !== "unchanged") logReport(problems, report, login.accessToken, login.expiresAt);
    }
    const left = new Set<string>();
    for (const u of groupUnrecovered(result.unrecovered)) {
      const at = key(u.stateDir, u.profileId);
      left.add(at);
      open.set(at, u.profileId);
      const fields = { profile: u.profileId, agents: u.agents, ...where(u.stateDir) };
      problems.problem(at, "warn", "fence.failed", unrecoveredText(u, auto), fields);
    }
    for (const p of result.pending) {
      const msg = `${agentName(p.agent, p.stateDir)}: ${p.profileId} left alone: the gateway is refreshing it`;
      problems.event("debug", "fence.pending", msg, { agent: p.agent, ...where(p.stateDir), profile: p.profileId });
    }
    for (const [at, profileId] of [...open].filter(([k]) => !left.has(k))) {
      open.delete(at);
      // Recovered by this pass: its own line said so. Otherwise someone signed in again, or recovered it by hand.
      if (recoveredNow.has(at)) problems.forget(at);
      else problems.clear(at, "fence.recovered", `${profileId}: no longer a failed refresh`, { profile: profileId });
    }
    if (result.problem) problems.problem("recovery-file", "warn", "state_file.unwritable", result.problem);
    else problems.clear("recovery-file", "state_file.recovered", "the record of recovered profiles is writable again");
  }
}

const key = (stateDir: string | undefined, profileId: string) => `fence:${stateDir ?? ""}:${profileId}`;
const where = (stateDir: string | undefined) => (stateDir === undefined ? {} : { stateDir });
