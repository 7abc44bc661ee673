/** `moltbot-auth-sync status [--json]`: the source, every agent's copy and markings; exit 0/1/2. */
import { formatDuration, formatRelative } from "../duration.js";
import { ExitError } from "../errors.js";
import { mapLimit } from "../map-limit.js";
import { readDaemonStatus, type DaemonStatus } from "../daemon/runtime-files.js";
import { readClaudeLogin } from "../sources/index.js";
import { type AgentStatus, type Marking, agentStatus, sourceStatus, statusExitCode } from "../status.js";
import { resolveTargets } from "../targets.js";
import type { SourceCredential } from "../types.js";
import { type GlobalOptions, loadCommandConfig, printJson } from "./options.js";

export interface StatusCommandOptions extends GlobalOptions {
  json?: boolean;
}

export async function statusCommand(options: StatusCommandOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const read: SourceCredential | Error = await readClaudeLogin(config).catch((err: Error) => err);
  const credential = read instanceof Error ? undefined : read;
  const source = sourceStatus(read);
  const targets = await resolveTargets(config);
  const now = Date.now();
  const agents = await mapLimit(targets.agents, 8, (agent) => agentStatus(agent, config.profileId, credential, now));
  const exitCode = statusExitCode(source, agents, config.profileId, now, config.expiryWarning);
  const daemon = await readDaemonStatus();
  if (options.json) {
    printJson({ now, profile: config.profileId, source, stateDir: targets.stateDir, daemon, agents, exitCode });
  } else {
    const lines = [`source  ${source.ok ? `${source.fingerprint} expires ${formatRelative(source.expiresAt, now)} (${source.origin})` : source.error}`];
    lines.push(`state   ${targets.stateDir.dir} (${targets.stateDir.reason})${targets.stateDir.alsoExisting.length ? `; also exists: ${targets.stateDir.alsoExisting.join(", ")}` : ""}`);
    lines.push(`daemon  ${daemonLine(daemon, now)}`);
    for (const agent of agents) lines.push(...agentLines(agent, config.profileId, now));
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  if (exitCode !== 0) throw new ExitError(exitCode);
}

function daemonLine(daemon: DaemonStatus, now: number): string {
  const parts = [daemon.running ? `running (pid ${daemon.pid})` : daemon.updatedAt ? `not running (last seen ${formatRelative(daemon.updatedAt, now)})` : "not running"];
  if (daemon.lastSyncAt) parts.push(`last sync ${formatRelative(daemon.lastSyncAt, now)}${daemon.lastSyncSummary ? `: ${daemon.lastSyncSummary}` : ""}`);
  if (daemon.running && daemon.nextRefreshAt) parts.push(`refresh due ${formatRelative(daemon.nextRefreshAt, now)}`);
  if (daemon.lastError) parts.push(`last problem ${formatRelative(daemon.lastError.at, now)}: ${daemon.lastError.message}`);
  return parts.join("; ");
}

function agentLines(agent: AgentStatus, profileId: string, now: number): string[] {
  if (agent.error) return [`agent ${agent.agent}: ${agent.error}`];
  const p = agent.profile;
  const credential = p
    ? `${p.type} ${p.fingerprint}${p.expires !== undefined ? ` expires ${formatRelative(p.expires, now)}` : ""}${p.matchesSource === false ? " (differs from source)" : p.matchesSource ? " (matches source)" : ""}`
    : `${profileId} missing`;
  return [`agent ${agent.agent}: ${credential}`, ...agent.markings.map((m) => `  ${markingText(m, now)}`)];
}

export function markingText(marking: Marking, now: number): string {
  return `${marking.profile} ${marking.kind}${marking.reason ? ` (${marking.reason})` : ""} for ${formatDuration(marking.until - now)}`;
}
