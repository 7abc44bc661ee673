/**
 * The pass's recovery step (reconcile/recovery.ts), in every store whose gateway leaves refresh fences: profiles we
 * recovered before are kept fresh with the login's token; a failed fence that is provably the login's account is
 * recovered (unless `autoRecover` is off); any other is reported, for `recover` to do by hand. Digests of the
 * login's refresh token, seen in profiles that hold it, are noted for later proof. A pending fence is left alone.
 */
import pLimit from "p-limit";
import { messageOf } from "../core/errors.js";
import { shellQuote } from "../core/terminal-text.js";
import { desiredProfile } from "../reconcile/profile.js";
import { holdsRefreshToken, parseRefreshFence } from "../reconcile/fence.js";
import {
  type FenceFinding,
  type LoginAccount,
  type Proof,
  accountText,
  fenceFindings,
  keepRecovered,
  loginRefreshDigests,
  recoverProfile,
} from "../reconcile/recovery.js";
import type { UpdateOptions } from "../stores/adapter.js";
import type { Agent } from "../stores/discovery/agents.js";
import type { AuthProfileStore, SourceCredential, TokenProfile } from "../types.js";
import { AGENT_CONCURRENCY, type AgentReport, type GatewayStores, updateAgent } from "./apply.js";
import { type RecoveredProfile, type RecoveryBook, type RecoveryState, isRecovered } from "./recovery-book.js";

export interface RecoveryContext {
  book: RecoveryBook;
  /** `autoRecover`: recover a failed fence that is provably the login's account on our own. */
  auto: boolean;
  /** The login this pass serves, by its profile id, as recovered entries name it. */
  loginId: string;
  /** Who the login is (sources/claude-account.ts), read only when a failed fence asks. */
  account: (login: SourceCredential) => Promise<LoginAccount>;
}

/** A failed fence left as it is: `recover` switches it to the login, whose account is `account`. */
export interface Unrecovered {
  agent: string;
  /** The agent's state dir, named when several gateways are served. */
  stateDir?: string;
  profileId: string;
  proof?: Proof;
  account: LoginAccount;
}

export interface RecoveryResult {
  reports: AgentReport[];
  /** The writes among `reports` that switched a failed fence to the login; the others kept recovered profiles fresh. */
  switched: AgentReport[];
  unrecovered: Unrecovered[];
  /** Profiles a pass met while the gateway refreshed them, left alone. */
  pending: Array<{ agent: string; stateDir?: string; profileId: string }>;
  /** Why the record of recovery could not be read or written, if it could not. */
  problem?: string;
}

/** The command that recovers one agent's profile by hand; with several gateways, it names the state dir. */
export function recoverCommand(where: { agent?: string; profileId: string; stateDir?: string | undefined }): string {
  const dir = where.stateDir === undefined ? "" : `--state-dir ${shellQuote(where.stateDir)} `;
  const agent = where.agent === undefined ? "" : `--agent ${shellQuote(where.agent)} `;
  return `moltbot-auth-sync ${dir}recover ${agent}--profile ${shellQuote(where.profileId)}`;
}

/** Where a line is about: a profile id in some agents (of one gateway, named when several are served). */
export interface ProfileIn {
  agents: readonly string[];
  profileId: string;
  stateDir?: string | undefined;
}

/** The profile, the agents, and the command that recovers it in them (in every agent, when several read it). */
function placed(where: ProfileIn): { what: string; command: string } {
  const gateway = where.stateDir === undefined ? "" : ` (${where.stateDir})`;
  const one = where.agents.length === 1 ? { agent: where.agents[0]! } : {};
  const command = recoverCommand({ profileId: where.profileId, stateDir: where.stateDir, ...one });
  return { what: `${where.profileId} in ${where.agents.join(", ")}${gateway}`, command };
}

/** Why a failed fence is still there: nothing proves its account, or autoRecover is off, or the next pass does it. */
export function unrecoveredWhy(proof: Proof | undefined, auto: boolean): string {
  if (!proof) return "nothing proves it is the Claude login's account, so it is not switched on its own";
  const account = `it is the Claude login's account (its ${proof})`;
  return auto ? `${account}: a pass of the daemon or \`sync\` recovers it` : `${account}, but autoRecover is off`;
}

/** One line for a failed fence left as it is: what it is, why we left it, and the command that fixes it. */
export function unrecoveredText(u: ProfileIn & { proof?: Proof; account: LoginAccount }, auto: boolean): string {
  const { what, command } = placed(u);
  const why = unrecoveredWhy(u.proof, auto);
  const fix = `\`${command}\` switches it to ${accountText(u.account)}`;
  return `${what}: its refresh failed for good (the gateway never uses it again); ${why}; ${fix}`;
}

/** The same failed fences, one per profile: every agent that reads it is named once. */
export function groupUnrecovered(list: readonly Unrecovered[]): Array<ProfileIn & Omit<Unrecovered, "agent">> {
  const groups = new Map<string, ProfileIn & Omit<Unrecovered, "agent">>();
  for (const { agent, ...rest } of list) {
    const key = JSON.stringify([rest.stateDir, rest.profileId]);
    const group = groups.get(key) ?? { ...rest, agents: [] };
    groups.set(key, { ...group, agents: [...group.agents, agent] });
  }
  return [...groups.values()];
}

/**
 * One line for a profile holding the login's own refresh token: the cause of most failed refreshes, before it
 * breaks.
 */
export function sharedText(where: ProfileIn): string {
  const { what, command } = placed(where);
  const race = "whichever of the gateway and claude refreshes it second is logged out";
  const fix = `\`${command}\` makes it the login's access token, kept fresh, which the gateway never refreshes`;
  return `${what} is an oauth profile holding the Claude login's own refresh token: ${race}; ${fix}`;
}

/** What a recovery write says: what proved the account, or that `recover` was asked to. */
export function recoveredReason(proof: Proof | "recover"): string {
  if (proof === "recover") return "now the Claude login's token, kept fresh (by `recover`)";
  return `recovered from a failed refresh: now the Claude login's token (the same account, proven by its ${proof})`;
}

export async function recoverAgents(
  gateways: readonly GatewayStores[],
  login: SourceCredential,
  context: RecoveryContext,
  options: UpdateOptions,
): Promise<RecoveryResult> {
  const result: RecoveryResult = { reports: [], switched: [], unrecovered: [], pending: [] };
  const fenced = gateways.filter((g) => g.adapter.refreshFences);
  if (fenced.length === 0) return result;
  let state: RecoveryState = { recovered: [], refreshDigests: [] };
  try {
    state = await context.book.read();
  } catch (err) {
    result.problem = `cannot read ${context.book.file}: ${messageOf(err)}`;
  }
  let account: Promise<LoginAccount> | undefined;
  const accountOnce = () => (account ??= context.account(login).catch(() => ({})));
  const desired = desiredProfile(login, "token") as TokenProfile;
  const usable = login.expiresAt > Date.now();
  const digests: string[] = [];
  const recovered: RecoveredProfile[] = [];
  const released: Array<Pick<RecoveredProfile, "stateDir" | "profileId">> = [];
  const knownDigests = new Set(state.refreshDigests);

  const visit = async (stores: GatewayStores, agent: Agent) => {
    const where = stores.stateDir === undefined ? {} : { stateDir: stores.stateDir };
    const store = await stores.adapter.read(agent.dir).catch(() => undefined);
    if (!store) return;
    digests.push(...loginRefreshDigests(store, login.refreshToken));
    // A profile recovered with another login (`logins`) follows that one: this login's pass leaves it alone.
    const recoveredBy = (id: string) => isRecovered(state, agent.stateDir, id)?.login;
    const ours = (id: string) => recoveredBy(id) !== undefined;
    const mine = (id: string) => recoveredBy(id) === context.loginId;
    const needsAccount = fenceFindings(store, {}).some((f) => f.kind === "failed" && !ours(f.profileId));
    const facts = {
      refreshToken: login.refreshToken,
      knownDigests,
      ...(needsAccount ? { account: await accountOnce() } : {}),
    };
    const findings = fenceFindings(store, facts);
    const todo: Array<{ profileId: string; reason?: string; keep: boolean }> = [];
    for (const id of Object.keys(store.profiles).filter(mine)) {
      // Made a live oauth profile again by someone (signed in anew): theirs from now on, even should it fail later.
      if (signedInAgain(id, store.profiles[id], login.refreshToken))
        released.push({ stateDir: agent.stateDir, profileId: id });
      else todo.push({ profileId: id, keep: true });
    }
    for (const finding of findings.filter((f) => !ours(f.profileId))) {
      if (finding.kind === "pending") result.pending.push({ agent: agent.id, ...where, profileId: finding.profileId });
      if (finding.kind !== "failed") continue;
      if (finding.proof && context.auto) {
        todo.push({ profileId: finding.profileId, reason: recoveredReason(finding.proof), keep: false });
      } else result.unrecovered.push(unrecovered(agent, where, finding, facts.account ?? {}));
    }
    for (const { profileId, reason, keep } of todo) {
      const report = { ...(await write(stores, agent, profileId, keep, reason)), ...where };
      result.reports.push(report);
      if (!keep && report.result === "written") result.switched.push(report);
      if (!keep && (report.result === "written" || report.result === "unchanged")) {
        recovered.push({ stateDir: agent.stateDir, profileId, login: context.loginId, at: Date.now() });
      }
    }
  };

  const write = async (stores: GatewayStores, agent: Agent, profileId: string, keep: boolean, reason?: string) => {
    if (!usable) {
      const file = stores.adapter.files(agent.dir)[0]!;
      const why = "the Claude login's token has expired: recovered once claude has refreshed it";
      return { agent: agent.id, file, profile: profileId, result: "skipped" as const, reason: why, warnings: [] };
    }
    const rules = { usage: stores.adapter.usage, refreshToken: login.refreshToken };
    const change = (store: AuthProfileStore) =>
      (keep ? keepRecovered : recoverProfile)(store, profileId, desired, rules);
    const report = await updateAgent(agent, stores.adapter, profileId, change, options);
    return report.result === "written" && reason ? { ...report, reason } : report;
  };

  for (const stores of fenced) await pLimit(AGENT_CONCURRENCY).map(stores.agents, (agent) => visit(stores, agent));
  if (!options.dryRun) {
    try {
      await context.book.note(digests, recovered, released);
    } catch (err) {
      result.problem = `cannot write ${context.book.file}: ${messageOf(err)}`;
    }
  }
  return result;
}

/** A live `oauth` profile that is not the login's own: someone signed in again. */
function signedInAgain(profileId: string, profile: Record<string, unknown> | undefined, refreshToken?: string) {
  return (
    profile?.type === "oauth" && !parseRefreshFence(profile) && !holdsRefreshToken(profileId, profile, refreshToken)
  );
}

function unrecovered(agent: Agent, where: { stateDir?: string }, finding: FenceFinding, account: LoginAccount) {
  return {
    agent: agent.id,
    ...where,
    profileId: finding.profileId,
    ...(finding.proof ? { proof: finding.proof } : {}),
    account,
  };
}
