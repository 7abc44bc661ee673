/**
 * One sync pass: put a credential under one profile id in every agent's store. `sync` runs it once;
 * the daemon runs it on every trigger. It reports per agent and never throws for one agent's failure.
 */
import { AuthSyncError, messageOf } from "./errors.js";
import { mapLimit } from "./map-limit.js";
import { type ProfileOutcome, reconcileProfile } from "./reconcile.js";
import { updateStore } from "./stores/auth-profiles.js";
import type { Agent } from "./stores/agents.js";
import { storeFile } from "./targets.js";
import type { ProfileCredential } from "./types.js";

/** Agents are independent files; a few in flight hide fsync latency without piling up locks. */
const AGENT_CONCURRENCY = 8;

export type AgentResult = "written" | "unchanged" | "skipped" | "failed";

export interface AgentReport {
  agent: string;
  file: string;
  profile: string;
  result: AgentResult;
  reason?: string;
  /** Error code for failures, e.g. "store.locked". */
  code?: string;
  warnings: string[];
  /** What was written, kept in memory only so the watcher can ignore our own writes; never printed. */
  content?: string;
}

export interface SyncOptions {
  lockRetries: number;
  dryRun?: boolean;
}

function reportOf(agent: Agent, outcome: ProfileOutcome): Pick<AgentReport, "result" | "reason"> {
  if (outcome.result === "skipped") return { result: "skipped", reason: outcome.reason };
  if (outcome.result === "written") return { result: "written", reason: outcome.why === "missing" ? `added to ${agent.id}` : "updated" };
  return { result: "unchanged" };
}

export async function syncAgent(agent: Agent, profileId: string, desired: ProfileCredential, options: SyncOptions): Promise<AgentReport> {
  const file = storeFile(agent);
  try {
    const update = await updateStore(file, (store) => reconcileProfile(store, profileId, desired), options);
    return {
      agent: agent.id,
      file,
      profile: profileId,
      ...reportOf(agent, update.outcome),
      warnings: update.warnings,
      ...(update.content ? { content: update.content } : {}),
    };
  } catch (err) {
    const code = err instanceof AuthSyncError ? err.code : "store.error";
    return { agent: agent.id, file, profile: profileId, result: "failed", reason: messageOf(err), code, warnings: [] };
  }
}

export function syncAgents(agents: readonly Agent[], profileId: string, desired: ProfileCredential, options: SyncOptions): Promise<AgentReport[]> {
  return mapLimit(agents, AGENT_CONCURRENCY, (agent) => syncAgent(agent, profileId, desired, options));
}
