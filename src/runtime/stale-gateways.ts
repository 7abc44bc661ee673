/**
 * Running gateways that have not picked up our writes, for `status`: `gateway-reload.json` beside the daemon's
 * state file, written by whichever of `sync`, `cooldown clear` and the daemon last told a gateway to re-read its
 * stores. An entry stands until a later reload of that gateway succeeds or finds none running, and `status`
 * shows it only while the gateway process it is about, when known, still runs (a restarted gateway read the
 * stores anew).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { PRIVATE_DIR_MODE, writeFileAtomically } from "../fs/atomic-write.js";
import { readRegularFile } from "../fs/read-file.js";
import type { GatewayReload } from "../stores/adapter.js";
import { runningGatewayOwner } from "../stores/sqlite/gateway-instance.js";
import { runtimeDir } from "./files.js";

export interface StaleGateway {
  /** The gateway's state dir. */
  dir: string;
  /** When the gateway could not be told. */
  at: number;
  agents: string[];
  /** One line, without secrets. */
  reason: string;
  /** The gateway process then running (gateway-instance.ts), when known. */
  owner?: string;
}

export const staleGatewaysPath = (env?: NodeJS.ProcessEnv) => path.join(runtimeDir(env), "gateway-reload.json");

async function readAll(file: string): Promise<Record<string, StaleGateway>> {
  try {
    const value: unknown = JSON.parse(await readRegularFile(file, { followSymlinks: false }));
    return typeof value === "object" && value !== null ? (value as Record<string, StaleGateway>) : {};
  } catch {
    return {};
  }
}

/**
 * Records what came of telling each gateway: a failure is kept, a success (or no gateway running) ends one. Never
 * throws: a record that cannot be written leaves only `status` less informed, and the caller has said it already.
 */
export async function noteReloads(
  reloads: readonly GatewayReload[],
  now: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  if (reloads.length === 0) return;
  const file = staleGatewaysPath(env);
  const all = await readAll(file);
  let changed = false;
  for (const reload of reloads) {
    if (reload.result === "not-reloaded") {
      const { dir, agents, reason, owner } = reload;
      all[dir] = { dir, at: now, agents, reason, ...(owner ? { owner } : {}) };
      changed = true;
    } else if (all[reload.dir]) {
      delete all[reload.dir];
      changed = true;
    }
  }
  if (!changed) return;
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    await writeFileAtomically(file, `${JSON.stringify(all, null, 2)}\n`);
  } catch {
    // See above.
  }
}

/** The gateways that still run without our last writes: those whose process has not changed since. */
export async function staleGateways(env: NodeJS.ProcessEnv = process.env): Promise<StaleGateway[]> {
  const entries = Object.values(await readAll(staleGatewaysPath(env)));
  const stale: StaleGateway[] = [];
  for (const entry of entries) {
    if (typeof entry?.dir !== "string" || typeof entry.reason !== "string" || !Array.isArray(entry.agents)) continue;
    // Once the gateway that was running stopped or restarted, it read the stores as they are. Without its
    // lock then, there is no telling: the entry stands until a reload of that gateway ends it.
    if (entry.owner !== undefined && (await runningGatewayOwner(entry.dir)) !== entry.owner) continue;
    stale.push(entry);
  }
  return stale;
}
