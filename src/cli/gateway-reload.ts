/**
 * After a command's own writes outside a pass (`cooldown clear`, `recover`): the running gateway is told to re-read
 * its stores, what came of it is kept for `status`, and a gateway that could not be told is one warning line each.
 */
import type { Config } from "../config/config.js";
import { noteReloads } from "../runtime/stale-gateways.js";
import type { AgentReport, GatewayStores } from "../pass/apply.js";
import { type ReloadReport, reloadGateways, staleReloads, staleText } from "../pass/reload.js";

export async function reloadAfterWrites(
  config: Config,
  stores: GatewayStores,
  reports: readonly AgentReport[],
): Promise<ReloadReport[]> {
  if (!config.reloadGateway) return [];
  const reloads = await reloadGateways([stores], reports);
  await noteReloads(
    reloads.map((r) => r.reload),
    Date.now(),
  );
  return reloads;
}

/** One `warning:` line for each gateway that has not picked up what was written. */
export const staleWarnings = (reloads: readonly ReloadReport[]): string[] =>
  staleReloads(reloads).map((r) => `warning: ${staleText(r.reload, r.stateDir)}`);
