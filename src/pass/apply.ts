/**
 * Applying one pure change to every agent's store: the credential (`syncAgents`, what `sync` and the daemon
 * run) or our profile's usage stats (`markAgents`, `clearAgents`). Reports per agent, and never throws for
 * one agent's failure.
 */
import { removeProfile } from "../reconcile/remove.js";
import type { GatewayAuth } from "../reconcile/profile-order.js";
import type { CooldownConfig, Occurrence } from "../reconcile/cooldown.js";
import type { Failure } from "../reconcile/failure.js";
import { type UsageOutcome, updateUsage } from "../reconcile/usage.js";
import pLimit from "p-limit";
import { AuthSyncError, messageOf } from "../core/errors.js";
import { type ProfileOutcome, type ReconcileRules, reconcileProfile } from "../reconcile/profile.js";
import type { StoreAdapter, StoreChange, UpdateOptions } from "../stores/adapter.js";
import type { Agent } from "../stores/discovery/agents.js";
import type { AuthProfileStore, ProfileCredential, ProfileUsageStats } from "../types.js";

/** Agents are independent files; a few in flight hide fsync latency without piling up locks. */
export const AGENT_CONCURRENCY = 8;

export type AgentResult = "written" | "unchanged" | "skipped" | "failed" | "marked" | "cleared" | "removed";

export interface AgentReport {
  agent: string;
  /** The agent's state dir, when several gateways are served (`Gateways.stateDirLabel`): every gateway has a `main`. */
  stateDir?: string;
  file: string;
  profile: string;
  result: AgentResult;
  reason?: string;
  /** A failure's error code, e.g. "store.locked"; or why a change was skipped (SkipCode). */
  code?: string;
  /** Set when the write cleared markings: the time of the first failure, when known. */
  recovered?: { since?: number };
  warnings: string[];
}

/** One gateway as a change reaches it: its agents, and the adapter for their store generation. */
export interface GatewayStores {
  agents: readonly Agent[];
  adapter: StoreAdapter;
  /** Names the state dir on every report, when several gateways are served. */
  stateDir?: string;
  /** The gateway's own cooldown settings, when they differ per gateway (several state dirs). */
  cooldowns?: CooldownConfig;
  /** Its config's `auth` section: which of the profiles we write it ever tries (`sync`'s check). */
  auth?: GatewayAuth;
}

/** The part of a report that says which gateway it is about, when several are served. */
const whereOf = (stores: GatewayStores) => (stores.stateDir === undefined ? {} : { stateDir: stores.stateDir });

type Outcome = ProfileOutcome | UsageOutcome;

function describe(outcome: Outcome): Pick<AgentReport, "result" | "reason" | "code" | "recovered"> {
  switch (outcome.result) {
    case "written":
      return {
        result: "written",
        // A fresh credential clears the marking the old one earned: said, since the gateway tries it again now.
        reason: `${outcome.why === "missing" ? "added" : "updated"}${outcome.recovered ? "; its marking cleared" : ""}`,
        ...(outcome.recovered ? { recovered: outcome.recovered } : {}),
      };
    case "skipped":
      return { result: "skipped", reason: outcome.reason, ...("code" in outcome ? { code: outcome.code } : {}) };
    case "marked":
    case "cleared":
    case "removed":
      return { result: outcome.result };
    default:
      return { result: "unchanged" };
  }
}

/** One pure change applied to one agent's store, as a report; a failure is the report's, never thrown. */
export async function updateAgent(
  agent: Agent,
  adapter: StoreAdapter,
  profileId: string,
  change: (store: AuthProfileStore) => StoreChange<Outcome>,
  options: UpdateOptions,
): Promise<AgentReport> {
  const file = adapter.files(agent.dir)[0]!;
  try {
    const update = await adapter.update(agent.dir, change, {
      ...options,
      stateDir: agent.stateDir,
      makeAgentDir: agent.named === true,
    });
    const { warnings } = update;
    return { agent: agent.id, file, profile: profileId, ...describe(update.outcome), warnings };
  } catch (err) {
    const code = err instanceof AuthSyncError ? err.code : "store.error";
    return { agent: agent.id, file, profile: profileId, result: "failed", reason: messageOf(err), code, warnings: [] };
  }
}

/** Told of each agent's report as that agent finishes, so that a long pass reports as it goes. */
export type OnReport = (report: AgentReport) => void;

async function updateAgents(
  stores: GatewayStores,
  profileId: string,
  change: (store: AuthProfileStore) => StoreChange<Outcome>,
  options: UpdateOptions,
  onReport?: OnReport,
): Promise<AgentReport[]> {
  return pLimit(AGENT_CONCURRENCY).map(stores.agents, async (agent) => {
    const report = { ...(await updateAgent(agent, stores.adapter, profileId, change, options)), ...whereOf(stores) };
    onReport?.(report);
    return report;
  });
}

export async function syncAgents(
  stores: GatewayStores,
  profileId: string,
  desired: ProfileCredential,
  options: UpdateOptions,
  rules: ReconcileRules = {},
  onReport?: OnReport,
): Promise<AgentReport[]> {
  // A generation may refuse a credential outright (the SQLite era never takes anthropic:claude-cli or a refresh token).
  const refusal = stores.adapter.admit?.(profileId, desired);
  if (refusal) {
    const skipped = (a: Agent): AgentReport => {
      const file = stores.adapter.files(a.dir)[0]!;
      return {
        agent: a.id,
        ...whereOf(stores),
        file,
        profile: profileId,
        result: "skipped",
        reason: refusal,
        warnings: [],
      };
    };
    const reports = stores.agents.map(skipped);
    if (onReport) reports.forEach(onReport);
    return reports;
  }
  const change = (store: AuthProfileStore) => reconcileProfile(store, profileId, desired, stores.adapter.usage, rules);
  return updateAgents(stores, profileId, change, options, onReport);
}

/** Marks our profile unusable in every store that holds it, with the gateway's semantics. */
export function markAgents(
  stores: GatewayStores,
  profileId: string,
  failure: Failure,
  occurrence: Occurrence,
  cooldowns: CooldownConfig,
  options: UpdateOptions,
): Promise<AgentReport[]> {
  const now = Date.now();
  const { usage } = stores.adapter;
  const marked = (stats: ProfileUsageStats) => usage.markFailure(stats, failure, now, occurrence, cooldowns);
  const change = (store: AuthProfileStore) => updateUsage(store, profileId, marked, "marked");
  return updateAgents(stores, profileId, change, options);
}

/** Takes `profileId` out of every agent's store where it is ours (reconcile/remove.ts), before an uninstall. */
export function removeAgents(
  stores: GatewayStores,
  profileId: string,
  ours: ((secret: string) => boolean) | undefined,
  options: UpdateOptions,
): Promise<AgentReport[]> {
  return updateAgents(stores, profileId, (store) => removeProfile(store, profileId, ours), options);
}

/**
 * Clears a profile's markings by hand; `refuse` names why a store's marking must stay (e.g. a disabled login
 * without --force).
 */
export function clearAgents(
  stores: GatewayStores,
  profileId: string,
  refuse: (stats: ProfileUsageStats) => string | undefined,
  options: UpdateOptions,
): Promise<AgentReport[]> {
  return updateAgents(
    stores,
    profileId,
    (store) => {
      const stats = store.usageStats?.[profileId];
      const refusal = stats && refuse(stats);
      if (refusal) return { next: store, outcome: { result: "skipped", reason: refusal, code: "refused" } };
      return updateUsage(store, profileId, stores.adapter.usage.clearMarking, "cleared");
    },
    options,
  );
}
