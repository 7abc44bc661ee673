/**
 * One agent's report of a pass, as log events: a write is logged each time (by fingerprint), a store
 * problem once until it ends (ProblemLog), an unchanged store only at debug.
 */
import { fingerprint } from "../core/fingerprint.js";
import type { LogEvent } from "../log/logger.js";
import type { AgentReport } from "../pass/apply.js";
import { agentName } from "../stores/discovery/gateway.js";
import type { AgentRef } from "./event-hook.js";
import type { ProblemLog } from "./problem-log.js";

export type EventLog = Pick<ProblemLog, "event">;

/** The log event of a store failure, by the failure's code. */
const STORE_FAILURES = new Set<string>(["store.locked", "store.invalid", "store.unwritable"]);

const where = (ref: AgentRef) => (ref.stateDir === undefined ? {} : { stateDir: ref.stateDir });

/**
 * The fields of a line about several agents: `agents` (their ids) and, when several gateways are served,
 * `stateDirs` beside it (each agent's state dir, in the same order), so two gateways' `main` stay apart.
 */
export function agentsFields(refs: readonly AgentRef[]): { agents: string[]; stateDirs?: string[] } {
  const agents = refs.map((r) => r.agent);
  if (refs.every((r) => r.stateDir === undefined)) return { agents };
  return { agents, stateDirs: refs.map((r) => r.stateDir ?? "") };
}

/** The agents in a message: ids, each with its state dir when several gateways are served. */
export const agentNames = (refs: readonly AgentRef[]) => refs.map((r) => agentName(r.agent, r.stateDir)).join(", ");

/** Logs one agent's result; `secret` and `expiresAt` describe what was written (only its fingerprint is logged). */
export function logReport(problems: ProblemLog, report: AgentReport, secret?: string, expiresAt?: number): void {
  const fields = { agent: report.agent, ...where(report), profile: report.profile };
  const name = agentName(report.agent, report.stateDir);
  for (const warning of report.warnings) problems.event("warn", "store.permissions", warning, fields);
  const key = `store:${report.file}`;
  switch (report.result) {
    case "written": {
      problems.clear(key, "store.recovered", `${name} writable again`, fields);
      const msg = `${name}: ${report.profile} ${report.reason} ${fingerprint(secret)}`;
      problems.event("info", "sync.written", msg, {
        ...fields,
        fingerprint: fingerprint(secret),
        ...(expiresAt ? { expiresAt } : {}),
      });
      break;
    }
    case "marked":
    case "cleared":
      problems.clear(key, "store.recovered", `${name} writable again`, fields);
      break;
    case "unchanged":
      problems.clear(key, "store.recovered", `${name} readable again`, fields);
      problems.event("debug", "sync.unchanged", `${name}: unchanged`, fields);
      break;
    case "skipped":
      problems.problem(key, "info", "sync.skipped", `${name}: ${report.reason}`, fields);
      break;
    case "failed": {
      const event = (STORE_FAILURES.has(report.code ?? "") ? report.code : "sync.failed") as LogEvent;
      problems.problem(key, "warn", event, report.reason ?? "failed", fields);
      break;
    }
  }
}
