/** `moltbot-auth-sync cooldown clear`: clears a profile's cooldown by hand, in one agent or all. */
import { loginProfileIds } from "../config/logins.js";
import { ExitError, AuthSyncError } from "../core/errors.js";
import type { ProfileUsageStats } from "../types.js";
import { clearRefusal } from "../reconcile/cooldown.js";
import { inSessions, type StoreAdapter } from "../stores/adapter.js";
import { adapterFor } from "../stores/adapter-for.js";
import type { Agent } from "../stores/discovery/agents.js";
import { type AgentReport, clearAgents } from "../pass/apply.js";
import { reloadAfterWrites, staleWarnings } from "./gateway-reload.js";
import { findGateway } from "../stores/discovery/gateway.js";
import { type GlobalOptions, loadCommandConfig, printJson, writeOptions } from "./options.js";
import { columns, printLines } from "./print.js";

export interface CooldownClearOptions extends GlobalOptions {
  profile?: string;
  agent?: string;
  all?: boolean;
  force?: boolean;
  json?: boolean;
}

export async function cooldownClearCommand(options: CooldownClearOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  if (options.agent && options.all) throw new AuthSyncError("use --agent ID or --all, not both", "usage");
  // Without --profile: every login's profile (one, unless `logins` lists several).
  const ours = options.profile ? [options.profile] : loginProfileIds(config);
  const profile = ours[0]!;
  const gateway = await findGateway(config);
  const agents = options.agent ? gateway.agents.filter((a) => a.id === options.agent) : gateway.agents;
  if (agents.length === 0)
    throw new AuthSyncError(
      `no agent "${options.agent}" (found: ${gateway.agents.map((a) => a.id).join(", ")})`,
      "usage",
    );
  const now = Date.now();
  const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
  // Where the login has no profile of its own (SQLite era by default), no --profile means every Anthropic profile.
  const every = !options.profile && ours.every((id) => adapter.admit?.(id, { type: "token" }) !== undefined);
  const writing = await writeOptions(config);
  const refuse = (stats: ProfileUsageStats) => (options.force ? undefined : clearRefusal(stats, now));
  const { profiles, reports } = await inSessions([adapter], async () => {
    const profiles = every ? await anthropicProfiles(agents, adapter) : ours;
    const reports: AgentReport[] = [];
    for (const id of profiles) reports.push(...(await clearAgents({ agents, adapter }, id, refuse, writing)));
    return { profiles, reports };
  });
  // A gateway that keeps its stores in memory would go on skipping the profile until told to re-read them.
  const reloads = await reloadAfterWrites(config, { agents, adapter }, reports);
  if (!every && reports.length > 0 && reports.every((r) => r.result === "skipped" && r.code === "no-profile")) {
    const looked = agents.map((a) => a.id).join(", ");
    throw new AuthSyncError(`no agent holds ${ours.join(" or ")} (looked in ${looked}); nothing to clear`, "usage");
  }
  const multi = profiles.length !== 1;
  const result = (r: AgentReport) => (r.result === "unchanged" ? "nothing to clear" : r.result);
  const row = (r: AgentReport) => [r.agent, ...(multi ? [r.profile] : []), result(r), r.reason ?? ""];
  const json = () => ({ profile: multi ? profiles : profile, agents: reports, ...(reloads.length ? { reloads } : {}) });
  if (options.json) printJson(json());
  else if (reports.length === 0) printLines(["no Anthropic profile in any agent's store"]);
  else printLines(columns(reports.map(row)));
  printLines(staleWarnings(reloads), process.stderr);
  if (reports.some((r) => r.result === "failed" || (r.result === "skipped" && r.code === "refused")))
    throw new ExitError(1);
}

/** Every Anthropic profile id any of these agents reads, sorted. */
async function anthropicProfiles(agents: readonly Agent[], adapter: StoreAdapter): Promise<string[]> {
  const ids = new Set<string>();
  for (const agent of agents) {
    // An agent whose store cannot be read is reported by the clear itself, with its reason.
    const store = await adapter.read(agent.dir).catch(() => undefined);
    for (const [id, profile] of Object.entries(store?.profiles ?? {})) {
      if (profile?.provider === "anthropic") ids.add(id);
    }
  }
  return [...ids].sort();
}
