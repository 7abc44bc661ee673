/** `moltbot-auth-sync cooldown clear`: clears a profile's cooldown by hand, in one agent or all. */
import { ExitError, AuthSyncError } from "../errors.js";
import type { ProfileUsageStats } from "../types.js";
import { clearAgents } from "../sync.js";
import { resolveTargets, storeAdapter } from "../targets.js";
import { type GlobalOptions, loadCommandConfig, printJson, writeOptions } from "./options.js";
import { columns, printLines } from "./print.js";

export interface CooldownClearOptions extends GlobalOptions {
  profile?: string;
  agent?: string;
  all?: boolean;
  force?: boolean;
  json?: boolean;
}

/** A disabled login is not a stuck cooldown: clearing it only makes the gateway fail on it again. */
export function refusal(stats: ProfileUsageStats, now: number): string | undefined {
  if (typeof stats.disabledUntil !== "number" || stats.disabledUntil <= now) return undefined;
  const why =
    stats.disabledReason === "auth"
      ? "the login needs a person: run `claude` and then /login (or `claude auth login`)"
      : `it was disabled for ${stats.disabledReason ?? "an unknown reason"}`;
  return `disabled, not cleared: ${why}; --force clears it anyway`;
}

export async function cooldownClearCommand(options: CooldownClearOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  if (options.agent && options.all) throw new AuthSyncError("use --agent ID or --all, not both", "usage");
  const profile = options.profile ?? config.profileId;
  const targets = await resolveTargets(config);
  const agents = options.agent ? targets.agents.filter((a) => a.id === options.agent) : targets.agents;
  if (agents.length === 0) throw new AuthSyncError(`no agent "${options.agent}" (found: ${targets.agents.map((a) => a.id).join(", ")})`, "usage");
  const now = Date.now();
  const reports = await clearAgents({ agents, adapter: storeAdapter(targets) }, profile, (stats) => (options.force ? undefined : refusal(stats, now)), await writeOptions(config));
  if (reports.length > 0 && reports.every((r) => r.result === "skipped" && r.reason === `no ${profile} profile`)) {
    const looked = agents.map((a) => a.id).join(", ");
    throw new AuthSyncError(`no agent holds ${profile} (looked in ${looked}); nothing to clear`, "usage");
  }
  if (options.json) printJson({ profile, agents: reports.map(({ writes: _writes, ...r }) => r) });
  else {
    const result = (r: (typeof reports)[number]) => (r.result === "unchanged" ? "nothing to clear" : r.result);
    printLines(columns(reports.map((r) => [r.agent, result(r), r.reason ?? ""])));
  }
  if (reports.some((r) => r.result === "failed" || (r.result === "skipped" && r.reason?.startsWith("disabled")))) throw new ExitError(1);
}
