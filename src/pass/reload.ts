/**
 * After a pass's writes: one reload per gateway that keeps its stores in memory (the SQLite era), naming each
 * agent the pass changed once, so that the very next turn uses what we wrote (stores/sqlite/gateway-notify.ts).
 */
import type { GatewayReload, ReloadOperation, ReloadRequest } from "../stores/adapter.js";
import { RELOAD_FIX } from "../stores/sqlite/gateway-notify.js";
import type { AgentReport, GatewayStores } from "./apply.js";

export interface ReloadReport {
  /** The gateway's state dir, when several are served (`GatewayStores.stateDir`). */
  stateDir?: string;
  reload: GatewayReload;
}

/** What each changed agent's gateway is told: a credential written is a login, a marking or clearing an update. */
function operationOf(report: AgentReport): ReloadOperation | undefined {
  if (report.result === "written") return "login";
  if (report.result === "marked" || report.result === "cleared") return "update";
  return undefined;
}

/** The agents of `stores` that `reports` changed, each once and in order of id; `login` wins over `update`. */
export function reloadRequests(stores: GatewayStores, reports: readonly AgentReport[]): ReloadRequest[] {
  const operations = new Map<string, ReloadOperation>();
  for (const report of reports) {
    if (report.stateDir !== stores.stateDir) continue;
    const operation = operationOf(report);
    if (operation && operations.get(report.agent) !== "login") operations.set(report.agent, operation);
  }
  return [...operations]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([agentId, operation]) => ({ agentId, operation }));
}

/** Tells each gateway of `gateways` that needs telling, one after another. */
export async function reloadGateways(
  gateways: readonly GatewayStores[],
  reports: readonly AgentReport[],
): Promise<ReloadReport[]> {
  const done: ReloadReport[] = [];
  for (const stores of gateways) {
    const requests = reloadRequests(stores, reports);
    if (!stores.adapter.reload || requests.length === 0) continue;
    const reload = await stores.adapter.reload(requests);
    done.push({ ...(stores.stateDir === undefined ? {} : { stateDir: stores.stateDir }), reload });
  }
  return done;
}

/**
 * The one line that says a running gateway has not picked up our writes, and what makes it: `where` names the
 * gateway (with several), `when` the writes (in `status`).
 */
export function staleText(stale: { agents: readonly string[]; reason: string }, where?: string, when?: string): string {
  const gateway = where === undefined ? "the running gateway" : `the running gateway of ${where}`;
  const written = `what was written for ${stale.agents.join(", ")}${when ? ` ${when}` : ""}`;
  return `${gateway} has not picked up ${written} (${stale.reason}); run \`${RELOAD_FIX}\` to apply it`;
}

/** The reloads that left a running gateway without our writes. */
export function staleReloads(reports: readonly ReloadReport[]) {
  return reports.flatMap((r) => (r.reload.result === "not-reloaded" ? [{ ...r, reload: r.reload }] : []));
}
