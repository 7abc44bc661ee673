/**
 * One agent's report of a pass, as log events: a write is logged each time (by fingerprint), a store
 * problem once until it ends (ProblemLog), an unchanged store only at debug.
 */
import { fingerprint } from "../core/fingerprint.js";
import type { LogEvent } from "../log/logger.js";
import type { AgentReport } from "../pass/apply.js";
import type { ProblemLog } from "./problem-log.js";

export type EventLog = Pick<ProblemLog, "event">;

/** The log event of a store failure, by the failure's code. */
const STORE_FAILURES = new Set<string>(["store.locked", "store.invalid", "store.unwritable"]);

/** Logs one agent's result; `secret` and `expiresAt` describe what was written (only its fingerprint is logged). */
export function logReport(problems: ProblemLog, report: AgentReport, secret?: string, expiresAt?: number): void {
  const fields = { agent: report.agent, profile: report.profile };
  for (const warning of report.warnings) problems.event("warn", "store.permissions", warning, fields);
  const key = `store:${report.file}`;
  switch (report.result) {
    case "written": {
      problems.clear(key, "store.recovered", `${report.agent} writable again`, fields);
      const msg = `${report.agent}: ${report.profile} ${report.reason} ${fingerprint(secret)}`;
      problems.event("info", "sync.written", msg, {
        ...fields,
        fingerprint: fingerprint(secret),
        ...(expiresAt ? { expiresAt } : {}),
      });
      break;
    }
    case "marked":
    case "cleared":
      problems.clear(key, "store.recovered", `${report.agent} writable again`, fields);
      break;
    case "unchanged":
      problems.clear(key, "store.recovered", `${report.agent} readable again`, fields);
      problems.event("debug", "sync.unchanged", `${report.agent}: unchanged`, fields);
      break;
    case "skipped":
      problems.problem(key, "info", "sync.skipped", `${report.agent}: ${report.reason}`, fields);
      break;
    case "failed": {
      const event = (STORE_FAILURES.has(report.code ?? "") ? report.code : "sync.failed") as LogEvent;
      problems.problem(key, "warn", event, report.reason ?? "failed", fields);
      break;
    }
  }
}
