/** `moltbot-auth-sync status [--json]`: the source, the daemon, every agent's copies and markings; exit 0/1/2. */
import pLimit from "p-limit";
import { formatDuration, formatRelative, formatWhen } from "../core/duration.js";
import { ExitError } from "../core/errors.js";
import type { Marking } from "../reconcile/cooldown.js";
import { profileSecret } from "../reconcile/profile.js";
import { readDaemonStatus, type DaemonStatus } from "../daemon/runtime-files.js";
import { loginOffer, readOffers } from "../sources/index.js";
import { type AgentStatus, type ProfileStatus, agentStatus, sourceStatus, statusVerdict } from "../report/status.js";
import { findGateway, gatewayWarnings } from "../stores/gateway.js";
import { adapterFor } from "../stores/adapter.js";
import { ENV_TOKEN } from "../sources/setup-token.js";
import { type GlobalOptions, loadCommandConfig, printJson } from "./options.js";
import { printLines } from "./print.js";

export interface StatusCommandOptions extends GlobalOptions {
  json?: boolean;
}

export async function statusCommand(options: StatusCommandOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const { offers, login, loginError } = await readOffers(config);
  const source = sourceStatus(login ?? loginError!);
  const expected = new Map<string, string | undefined>(login ? [] : [[config.profileId, undefined]]);
  for (const offer of offers) expected.set(offer.profileId, profileSecret(offer.profile));
  const loginOptional = !login && offers.length > 0;
  if (loginOptional) expected.delete(config.profileId);
  const gateway = await findGateway(config);
  const now = Date.now();
  const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
  // A generation that never takes the login's profile (SQLite era, by default) has nothing of it to show.
  const notCopied = adapter.admit?.(config.profileId, login ? loginOffer(login, config).profile : { type: "token" });
  if (notCopied) expected.delete(config.profileId);
  const agents = await pLimit(8).map(gateway.agents, (agent) => agentStatus(agent, adapter, expected, now));
  const tokens = offers
    .filter((o) => o.kind === "setup-token")
    .map((o) => ({ profileId: o.profileId, origin: o.origin, expires: o.profile.expires }));
  const verdict = statusVerdict(source, agents, now, config.expiryWarning, loginOptional, tokens);
  const exitCode = verdict.code;
  const daemon = await readDaemonStatus();
  if (options.json) {
    printJson({
      now,
      profile: config.profileId,
      ...(verdict.why ? { why: verdict.why } : {}),
      source,
      setupTokens: tokens.map((t) => ({
        profile: t.profileId,
        origin: t.origin,
        ...(t.expires !== undefined ? { expires: t.expires } : {}),
      })),
      stateDir: gateway.stateDir,
      store: gateway.generation,
      daemon,
      agents,
      exitCode,
    });
  } else {
    const lines = [
      `source  ${source.ok ? `${source.fingerprint} expires ${formatRelative(source.expiresAt, now)} (${source.origin})` : source.error}`,
    ];
    for (const t of tokens) {
      const expiry = t.expires !== undefined ? `expires ${formatWhen(t.expires, now)}` : `expiry unknown`;
      lines.push(`token   ${t.profileId} ${expiry} from ${t.origin}${t.expires === undefined ? unknownWhy(t) : ""}`);
    }
    lines.push(
      `state   ${gateway.stateDir.dir} (${gateway.stateDir.reason})${gateway.stateDir.alsoExisting.length ? `; also exists: ${gateway.stateDir.alsoExisting.join(", ")}` : ""}`,
    );
    const gen = gateway.generation;
    lines.push(`store   ${gen.format}${gen.version ? `, gateway ${gen.version}` : ""} (${gen.reason})`);
    lines.push(`daemon  ${daemonLine(daemon, now)}`);
    for (const agent of agents) lines.push(...agentLines(agent, now));
    printLines(lines);
  }
  printLines(
    gatewayWarnings(gateway).map((warning) => `warning: ${warning}`),
    process.stderr,
  );
  if (exitCode !== 0) throw new ExitError(exitCode, options.json ? "" : (verdict.why ?? ""));
}

/** Why a setup-token's expiry is not known, and what records it. */
function unknownWhy(token: { origin: string }): string {
  return token.origin === `env ${ENV_TOKEN}`
    ? " (the environment says nothing of when it was made; `token set` stores it with its expiry)"
    : " (stored by a version that did not record when; `token set` it again to record it)";
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
      `last sync ${formatRelative(daemon.lastSyncAt, now)}${daemon.lastSyncSummary ? `: ${daemon.lastSyncSummary}` : ""}`,
    );
  if (daemon.running && daemon.nextRefreshAt) parts.push(`refresh due ${formatRelative(daemon.nextRefreshAt, now)}`);
  if (daemon.lastError)
    parts.push(`last problem ${formatRelative(daemon.lastError.at, now)}: ${daemon.lastError.message}`);
  return parts.join("; ");
}

function profileText(p: ProfileStatus, now: number): string {
  if (!p.present) return `${p.profileId} missing`;
  const expiry =
    p.expires !== undefined ? ` expires ${formatRelative(p.expires, now)}` : p.type === "token" ? " (static)" : "";
  const match = p.matchesSource === false ? " (differs from source)" : p.matchesSource ? " (matches source)" : "";
  return `${p.profileId} ${p.type} ${p.fingerprint}${expiry}${match}`;
}

function agentLines(agent: AgentStatus, now: number): string[] {
  if (agent.error) return [`agent ${agent.agent}: ${agent.error}`];
  const leftover = "static, no setup-token stored for it (left after `token clear`?), not kept in step";
  const profiles = [...agent.profiles, ...(agent.otherProfiles ?? [])].map((p) => profileText(p, now)).join("; ");
  return [
    `agent ${agent.agent}: ${profiles || "no Anthropic profile"}`,
    ...agent.markings.map((m) => `  ${markingText(m, now)}`),
    ...(agent.leftovers ?? []).map((p) => `  ${p.profileId} token ${p.fingerprint}: ${leftover}`),
  ];
}

export function markingText(marking: Marking, now: number): string {
  const why = [marking.reason, marking.classification].filter(Boolean).join(", ");
  return `${marking.profile} ${marking.kind}${why ? ` (${why})` : ""} for ${formatDuration(marking.until - now)}`;
}
