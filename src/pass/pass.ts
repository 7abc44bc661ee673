/**
 * One login's pass over every gateway served (run.ts runs one per login): it copies what is offered into every
 * agent and marks the login's profile only when the credential the agents hold cannot work (reconcile/failure.ts).
 */
import { ownedBy } from "../sources/token-book.js";
import type { Config } from "../config/config.js";
import { DEFAULT_COOLDOWN_CONFIG, type Occurrence } from "../reconcile/cooldown.js";
import { type Failure, unusableFailure } from "../reconcile/failure.js";
import type { Offer } from "../reconcile/offer.js";
import type { UpdateOptions } from "../stores/adapter.js";
import { adapterFor } from "../stores/adapter-for.js";
import { cooldownConfigFrom } from "../reconcile/cooldown.js";
import { type GatewayInstall, type Gateways, agentName, gatewayAuth } from "../stores/discovery/gateway.js";
import { type AgentReport, type GatewayStores, markAgents, syncAgents } from "./apply.js";
import { type RecoveryContext, type RecoveryResult, recoverAgents } from "./recover.js";
import { type ReloadReport, reloadGateways } from "./reload.js";
import type { SourceCredential } from "../types.js";

export interface PassInput {
  /** Every gateway's agents, one after another in the same pass (several with `stateDirs`). */
  stores: readonly GatewayStores[];
  /** This login's view of the config. */
  config: Config;
  /** The Claude login as read now; undefined when the source gave none. */
  login: SourceCredential | undefined;
  /** The login's offer (reconcile/offer.ts), built once by the run; present exactly when `login` is. */
  loginOffer?: Offer | undefined;
  /** Why the source gave no login. */
  loginFailure?: Failure | undefined;
  /** The last refresh's failure, while no refresh has succeeded since (and the login has not changed). */
  refreshFailure?: Failure | undefined;
  setupOffers: readonly Offer[];
  options: UpdateOptions;
  /** "new" right after a refresh failed; "ongoing" when the same problem is seen again. */
  occurrence?: Occurrence;
  /** Told of each agent's copy of an offer as that agent finishes (the marking is reported in the result only). */
  onCopy?: (offer: Offer, report: AgentReport) => void;
  /** Recovery from failed refreshes (recover.ts), with the login; without it, a pass recovers nothing. */
  recovery?: RecoveryContext;
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
  /** What the recovery step did and found, when it ran. */
  recovery?: RecoveryResult;
  /** Each gateway told to re-read what the pass wrote (config `reloadGateway`), and what came of it. */
  reloads?: ReloadReport[];
}

export async function runPass(input: PassInput): Promise<PassResult> {
  const { config, options, onCopy } = input;
  const gateways = input.stores;
  const told = (offer: Offer) => (onCopy ? (report: AgentReport) => onCopy(offer, report) : undefined);
  /** One change applied to each gateway in turn; a gateway's failures are in its reports, never thrown. */
  const each = async (apply: (stores: GatewayStores) => Promise<AgentReport[]>) => {
    const reports: AgentReport[][] = [];
    for (const stores of gateways) reports.push(await apply(stores));
    return reports;
  };
  const copies: Copy[] = [];
  const result: PassResult = { copies };
  let loginReports: AgentReport[][] | undefined;
  const offer = input.loginOffer;
  if (input.login && offer) {
    loginReports = await each((stores) => syncAgents(stores, offer.profileId, offer.profile, options, {}, told(offer)));
    copies.push({ offer, reports: loginReports.flat() });
    if (input.recovery) result.recovery = await recoverAgents(gateways, input.login, input.recovery, options);
  }
  const failure = unusableFailure(input, Date.now());
  if (failure && !options.dryRun) {
    // An expired token is marked only where it is held: an agent that kept a later credential still works.
    const expiredOnly = input.login !== undefined && !failure.needsLogin;
    const occurrence = input.occurrence ?? "ongoing";
    const marked = await each((stores) => {
      const i = gateways.indexOf(stores);
      const keptLater = new Set(loginReports?.[i]?.filter((r) => r.result === "skipped").map((r) => r.agent) ?? []);
      const agents = expiredOnly ? stores.agents.filter((a) => !keptLater.has(a.id)) : stores.agents;
      const cooldowns = stores.cooldowns ?? DEFAULT_COOLDOWN_CONFIG;
      return markAgents({ ...stores, agents }, config.profileId, failure, occurrence, cooldowns, options);
    });
    result.marking = { failure, reports: marked.flat() };
  }
  // Setup-tokens are static and independent: a failure of the login never touches them.
  for (const offer of input.setupOffers) {
    if (offer.profileId === config.profileId) continue;
    const ours = offer.ours;
    const rules = { sourceDecides: true, ...(ours ? { ours: ownedBy(ours) } : {}) };
    const reports = await each((stores) =>
      syncAgents(stores, offer.profileId, offer.profile, options, rules, told(offer)),
    );
    copies.push({ offer, reports: reports.flat() });
  }
  // Once per pass, after every write: a gateway that keeps its stores in memory would go on with the old ones.
  if (!options.dryRun && config.reloadGateway) {
    const reloads = await reloadGateways(gateways, passReports(result));
    if (reloads.length > 0) result.reloads = reloads;
  }
  return result;
}

/** What the pass needs of each gateway found: its agents, its adapter, its cooldowns and (several) its name. */
export function gatewayStores(gateway: GatewayInstall, gateways: Pick<Gateways, "stateDirLabel">): GatewayStores {
  const stateDir = gateways.stateDirLabel(gateway.stateDir.dir);
  const auth = gatewayAuth(gateway);
  return {
    agents: gateway.agents,
    adapter: adapterFor(gateway.generation, gateway.stateDir.dir),
    cooldowns: cooldownConfigFrom(gateway.gatewayConfig?.value),
    ...(auth ? { auth } : {}),
    ...(stateDir === undefined ? {} : { stateDir }),
  };
}

export function passReports(result: PassResult): AgentReport[] {
  return [
    ...result.copies.flatMap((c) => c.reports),
    ...(result.recovery?.reports ?? []),
    ...(result.marking?.reports ?? []),
  ];
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
  const named = (r: AgentReport) => agentName(r.agent, r.stateDir);
  const agentsWith = (result: string) => [...new Set(reports.filter((r) => r.result === result).map(named))];
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
    const all = [...new Set(reports.map(named))];
    parts.push(all.length ? `${agentCount(all.length)} unchanged` : "no agents");
  }
  return parts.join("; ");
}
