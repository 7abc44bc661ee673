/** `moltbot-auth-sync status [--json]`: the source, the daemon, every agent's copies and markings; exit 0/1/2. */
import { formatDuration, formatRelative, formatWhen } from "../core/duration.js";
import { ExitError } from "../core/errors.js";
import type { Marking } from "../reconcile/cooldown.js";
import { readDaemonStatus, type DaemonStatus } from "../runtime/files.js";
import { staleGateways } from "../runtime/stale-gateways.js";
import { staleText } from "../pass/reload.js";
import { collectStatus, statusJson } from "../report/collect-status.js";
import type { AgentStatus, ProfileStatus } from "../report/status.js";
import { ENV_TOKEN } from "../sources/setup-token.js";
import type { Generation } from "../stores/discovery/generation.js";
import { type DatabaseFinding, findingsText } from "../stores/sqlite/inspect.js";
import { type GlobalOptions, loadCommandConfig, printJson } from "./options.js";
import { printLines } from "./print.js";

export interface StatusCommandOptions extends GlobalOptions {
  json?: boolean;
}

export async function statusCommand(options: StatusCommandOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const report = await collectStatus(config);
  const { now, source, agents } = report;
  const daemon = await readDaemonStatus();
  // A running gateway without our last writes goes on with what it read before: worth a look, like an expiry.
  const stale = await staleGateways();
  const several = report.gateways !== undefined;
  const staleLines = stale.map((s) => staleText(s, several ? s.dir : undefined, formatWhen(s.at, now)));
  const verdict = report.verdict.code === 0 && staleLines.length ? { code: 2, why: staleLines[0] } : report.verdict;
  const exitCode = verdict.code;
  if (options.json) {
    const json = statusJson({ ...report, verdict }, daemon);
    printJson(stale.length ? { ...json, staleGateways: stale } : json);
  } else {
    const ends = (s: typeof source) => (s.ok && s.loginEndsAt ? `; login ends ${formatWhen(s.loginEndsAt, now)}` : "");
    const sourceLine = (s: typeof source) =>
      s.ok ? `${s.fingerprint} expires ${formatRelative(s.expiresAt, now)} (${s.origin})${ends(s)}` : s.error;
    const lines = report.logins
      ? report.logins.map((l) => `source  ${l.profileId} (${l.claudeConfigDir}): ${sourceLine(l.source)}`)
      : [`source  ${sourceLine(source)}`];
    for (const t of report.setupTokens) {
      const expiry = t.expires !== undefined ? `expires ${formatWhen(t.expires, now)}` : `expiry unknown`;
      lines.push(`token   ${t.profile} ${expiry} from ${t.origin}${t.expires === undefined ? unknownWhy(t) : ""}`);
    }
    if (report.gateways) {
      lines.push(`daemon  ${daemonLine(daemon, now)}`, ...metricsLines(daemon), ...fleetLines(daemon, now));
      // With stateDirs: a heading per state dir with its generation, then its agents beneath it.
      for (const gateway of report.gateways) {
        if ("error" in gateway) {
          lines.push(`gateway ${gateway.stateDir.dir}: ${gateway.error}`);
          continue;
        }
        lines.push(`gateway ${gateway.stateDir.dir}: ${generationText(gateway.store)}`);
        if (gateway.schemas) lines.push(`  schema  ${schemaText(gateway.schemas)}`);
        for (const agent of gateway.agents) lines.push(...agentLines(agent, now).map((line) => `  ${line}`));
      }
    } else {
      const stateDir = report.stateDir!;
      const also = stateDir.alsoExisting.length ? `; also exists: ${stateDir.alsoExisting.join(", ")}` : "";
      lines.push(`state   ${stateDir.dir} (${stateDir.reason})${also}`);
      lines.push(`store   ${generationText(report.store!)}`);
      if (report.schemas) lines.push(`schema  ${schemaText(report.schemas)}`);
      lines.push(`daemon  ${daemonLine(daemon, now)}`, ...metricsLines(daemon), ...fleetLines(daemon, now));
      for (const agent of agents) lines.push(...agentLines(agent, now));
    }
    lines.push(...staleLines.map((line) => `stale   ${line}`));
    if (report.lockFolder) lines.push(`locks   ${report.lockFolder.detail}; fix: ${report.lockFolder.fix}`);
    printLines(lines);
  }
  printLines(
    report.warnings.map((warning) => `warning: ${warning}`),
    process.stderr,
  );
  if (exitCode !== 0) throw new ExitError(exitCode, options.json ? "" : (verdict.why ?? ""));
}

function generationText(gen: Generation): string {
  return `${gen.format}${gen.version ? `, gateway ${gen.version}` : ""} (${gen.reason})`;
}

/** The SQLite era's databases: a newer one served by its shape is information here, never a problem. */
function schemaText(findings: readonly DatabaseFinding[]): string {
  return findingsText(findings) || "no database yet (the gateway creates them on its first write)";
}

/** Why a setup-token's expiry is not known, and what records it. */
function unknownWhy(token: { origin: string }): string {
  return token.origin === `env ${ENV_TOKEN}`
    ? " (the environment says nothing of when it was made; `token set` stores it with its expiry)"
    : " (stored by a version that did not record when; `token set` it again to record it)";
}

/** The fleet as the running daemon last saw it: etcd, the leader of each login, and every host's last sync. */
function fleetLines(daemon: DaemonStatus, now: number): string[] {
  const fleet = daemon.running ? daemon.fleet : undefined;
  if (!fleet) return [];
  const contact = fleet.lastContactAt ? `last answered ${formatRelative(fleet.lastContactAt, now)}` : "never answered";
  const etcd = fleet.reachable
    ? "etcd reachable"
    : `etcd UNREACHABLE (${contact}; published tokens serve until expiry)`;
  const lines = [`fleet   this host is ${fleet.host}; ${etcd}`];
  for (const [login, leader] of Object.entries(fleet.leaders))
    lines.push(`  ${login} refreshed by ${leader === null ? "no host (no standby holds it)" : leader}`);
  for (const [login, left] of Object.entries(fleet.unfinished))
    lines.push(`  ${login}: ${left.host} began a refresh ${formatRelative(left.at, now)} and never published it`);
  for (const host of fleet.hosts) {
    const synced = host.lastSyncAt ? `last sync ${formatRelative(host.lastSyncAt, now)}` : "no sync yet";
    lines.push(
      `  host ${host.host}: ${synced}${host.standby.length ? `; stands by for ${host.standby.join(", ")}` : ""}`,
    );
  }
  return lines;
}

/** A metrics endpoint the running daemon could not bind: it syncs on, and says why it does not serve. */
function metricsLines(daemon: DaemonStatus): string[] {
  const metrics = daemon.running ? daemon.metrics : undefined;
  if (!metrics || metrics.serving) return [];
  return [
    `metrics not serving on ${metrics.listen}: ${metrics.why ?? "unknown"} (binding is retried; syncing goes on)`,
  ];
}

function daemonLine(daemon: DaemonStatus, now: number): string {
  const parts = [
    daemon.running
      ? `running (pid ${daemon.pid})`
      : daemon.updatedAt
        ? `not running (last seen ${formatRelative(daemon.updatedAt, now)})`
        : "not running",
  ];
  if (daemon.lastSyncAt)
    parts.push(
      `last sync ${formatRelative(daemon.lastSyncAt, now)}` +
        (daemon.lastSyncSummary ? `: ${daemon.lastSyncSummary}` : ""),
    );
  const due = (at: number) => formatRelative(at, now);
  if (daemon.running && daemon.logins) {
    const each = daemon.logins.filter((l) => l.nextRefreshAt).map((l) => `${l.profileId} ${due(l.nextRefreshAt!)}`);
    if (each.length) parts.push(`refresh due: ${each.join(", ")}`);
  } else if (daemon.running && daemon.nextRefreshAt) parts.push(`refresh due ${due(daemon.nextRefreshAt)}`);
  // The state file outlives the daemon: a problem of a run that ended, or one that cleared since, is history.
  const last = daemon.lastError;
  if (last) {
    const when = formatRelative(last.at, now);
    const over = last.clearedAt !== undefined ? `, over ${formatRelative(last.clearedAt, now)}` : "";
    const which = daemon.running ? "last problem" : "last problem before it stopped";
    parts.push(`${which} ${when}${over}: ${last.message}`);
  }
  return parts.join("; ");
}

/** A fence is no token and its `expires: 1` no date: it is shown for what it is. */
const FENCE_TEXT = {
  failed: "refresh failed (a failed refresh fence: the gateway never uses it again)",
  pending: "being refreshed by the gateway (a pending refresh fence)",
} as const;

function profileText(p: ProfileStatus, now: number): string {
  if (!p.present) return `${p.profileId} missing`;
  if (p.fence) return `${p.profileId} ${p.type} ${FENCE_TEXT[p.fence]}`;
  const expiry =
    p.expires !== undefined ? ` expires ${formatRelative(p.expires, now)}` : p.type === "token" ? " (static)" : "";
  const match = p.matchesSource === false ? " (differs from source)" : p.matchesSource ? " (matches source)" : "";
  const recovered = p.recovered ? " (recovered from a failed refresh, kept in step with the login)" : "";
  return `${p.profileId} ${p.type} ${p.fingerprint}${expiry}${match}${recovered}`;
}

function agentLines(agent: AgentStatus, now: number): string[] {
  if (agent.error) return [`agent ${agent.agent}: ${agent.error}`];
  const leftover = (p: ProfileStatus) =>
    p.ours
      ? "static, ours but no longer stored (left after `token clear`), not kept in step"
      : "static, not put there by moltbot-auth-sync (the gateway's paste-token?), left as it is";
  const profiles = [...agent.profiles, ...(agent.otherProfiles ?? [])].map((p) => profileText(p, now)).join("; ");
  return [
    `agent ${agent.agent}: ${profiles || "no Anthropic profile"}`,
    ...agent.markings.map((m) => `  ${markingText(m, now)}`),
    ...(agent.fences ?? []).flatMap((f) => (f.advice ? [`  ${f.advice}`] : [])),
    ...(agent.leftovers ?? []).map((p) => `  ${p.profileId} token ${p.fingerprint}: ${leftover(p)}`),
    ...(agent.neverTried ?? []).map((n) => `  ${n.profileId} never tried by the gateway: ${n.detail}; fix: ${n.fix}`),
  ];
}

export function markingText(marking: Marking, now: number): string {
  const why = [marking.reason, marking.classification].filter(Boolean).join(", ");
  return `${marking.profile} ${marking.kind}${why ? ` (${why})` : ""} for ${formatDuration(marking.until - now)}`;
}
