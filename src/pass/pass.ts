/**
 * The pass, the centre of the pipeline (sources → reconcile → stores), run once: `sync` runs it from cron and
 * the daemon on every trigger, so the two cannot drift. It copies what the sources offer into every agent and
 * marks our profile only when the credential the agents hold cannot work (`unusableFailure`).
 */
import type { Config } from "../config/config.js";
import { type CooldownConfig, type Failure, type Occurrence } from "../reconcile/cooldown.js";
import { formatRelative } from "../core/duration.js";
import { SourceError, messageOf } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import { type Offer, loginOffer } from "../sources/index.js";
import type { UpdateOptions } from "../stores/adapter.js";
import { type AgentReport, type UpdateTarget, markAgents, syncAgents } from "./apply.js";
import type { SourceCredential } from "../types.js";

export interface PassInput {
  target: UpdateTarget;
  config: Config;
  /** The Claude login as read now; undefined when the source gave none. */
  login: SourceCredential | undefined;
  /** Why the source gave no login. */
  loginFailure?: Failure | undefined;
  /** The last refresh's failure, while no refresh has succeeded since (and the login has not changed). */
  refreshFailure?: Failure | undefined;
  setupOffers: readonly Offer[];
  cooldowns: CooldownConfig;
  options: UpdateOptions;
  /** "new" right after a refresh failed; "ongoing" when the same problem is seen again. */
  occurrence?: Occurrence;
}

export interface Copy {
  offer: Offer;
  reports: AgentReport[];
}

export interface PassResult {
  /** The login's copy first (when there is a login), then each setup-token's. */
  copies: Copy[];
  /** Set when our profile had to be marked: why, and what each agent did. */
  marking?: { failure: Failure; reports: AgentReport[] };
}

/**
 * Whether the credential the agents hold cannot work, and why. A refresher that fails while the held token is
 * still valid (claude missing or hanging, no network, a rate limit on the refresh) is no reason: the token still
 * works, and marking it would make the gateway skip a healthy profile. A dead login, an expired token that
 * could not be refreshed, or no login at all are.
 */
export function unusableFailure(
  input: Pick<PassInput, "login" | "loginFailure" | "refreshFailure">,
  now: number,
): Failure | undefined {
  const { login, loginFailure, refreshFailure } = input;
  if (!login) return loginFailure;
  if (!refreshFailure) return undefined;
  if (refreshFailure.needsLogin) return refreshFailure;
  if (login.expiresAt > now) return undefined;
  // The gateway drops an expired token (it resolves to no credential): an auth failure, which a fresh token cures.
  const expired = `${fingerprint(login.accessToken)} expired ${formatRelative(login.expiresAt, now)}`;
  const message = `${expired} and claude could not refresh it (${refreshFailure.message})`;
  return { reason: "auth", needsLogin: false, message };
}

/** What only a person can do when the login is dead. */
export const LOGIN_FIX =
  "on this host, run `claude` and then /login (or `claude auth login`); for unattended use, `claude setup-token`";

/** Why the source gave no login, as a failure to mark: no login at all needs a person. */
export function loginFailureOf(err: unknown): Failure {
  const missing = err instanceof SourceError && err.problem === "not_logged_in";
  return { reason: missing ? "auth" : "unknown", needsLogin: missing, message: messageOf(err) };
}

export async function runPass(input: PassInput): Promise<PassResult> {
  const { target, config, options } = input;
  const copies: Copy[] = [];
  const result: PassResult = { copies };
  if (input.login) {
    const offer = loginOffer(input.login, config);
    copies.push({ offer, reports: await syncAgents(target, offer.profileId, offer.profile, options) });
  }
  const failure = unusableFailure(input, Date.now());
  if (failure && !options.dryRun) {
    // An expired token is marked only where it is held: an agent that kept a later credential still works.
    const expiredOnly = input.login !== undefined && !failure.needsLogin;
    const keptLater = new Set(copies[0]?.reports.filter((r) => r.result === "skipped").map((r) => r.agent) ?? []);
    const agents = expiredOnly ? target.agents.filter((a) => !keptLater.has(a.id)) : target.agents;
    const occurrence = input.occurrence ?? "ongoing";
    const { cooldowns } = input;
    const reports = await markAgents({ ...target, agents }, config.profileId, failure, occurrence, cooldowns, options);
    result.marking = { failure, reports };
  }
  // Setup-tokens are static and independent: a failure of the login never touches them.
  for (const offer of input.setupOffers) {
    if (offer.profileId === config.profileId) continue;
    const reports = await syncAgents(target, offer.profileId, offer.profile, options, { sourceDecides: true });
    copies.push({ offer, reports });
  }
  return result;
}

/** How a failure marks our profile, as `status` shows it: "disabled (auth)", "cooldown (timeout)". */
export function markingKind(failure: Failure): string {
  if (failure.needsLogin) return "disabled (auth)";
  return failure.reason === "billing" ? "disabled (billing)" : `cooldown (${failure.reason})`;
}

export function passReports(result: PassResult): AgentReport[] {
  return [...result.copies.flatMap((c) => c.reports), ...(result.marking?.reports ?? [])];
}

/** Whether the pass changed or failed anything (a pass that found everything in step only confirms the last). */
export function passActed(result: PassResult): boolean {
  return passReports(result).some((r) => r.result !== "unchanged" && r.result !== "skipped");
}

const agentCount = (n: number) => `${n} agent${n === 1 ? "" : "s"}`;
const agentList = (ids: readonly string[]) => `${agentCount(ids.length)} (${[...ids].sort().join(", ")})`;

/**
 * What the pass did, in a few words, for `daemon.ready` and the state file's last-sync summary:
 * "synced 2 agents (main, work)", "nothing synced: not logged in", "marked 1 agent (main)", "2 agents unchanged".
 */
export function passSummary(result: PassResult, noLogin?: string): string {
  const reports = passReports(result);
  const agentsWith = (result: string) => [...new Set(reports.filter((r) => r.result === result).map((r) => r.agent))];
  const parts: string[] = [];
  const written = agentsWith("written");
  if (written.length) parts.push(`synced ${agentList(written)}`);
  const marked = agentsWith("marked");
  if (marked.length) parts.push(`marked ${agentList(marked)}`);
  const failed = agentsWith("failed");
  if (failed.length) parts.push(`failed in ${agentList(failed)}`);
  const loginCopied = result.copies.some((c) => c.offer.kind === "claude-login");
  if (parts.length === 0 && noLogin && !loginCopied) parts.push(`nothing synced: ${noLogin}`);
  if (parts.length === 0) {
    const all = [...new Set(reports.map((r) => r.agent))];
    parts.push(all.length ? `${agentCount(all.length)} unchanged` : "no agents");
  }
  return parts.join("; ");
}
