/**
 * What `status` reports: the source, and for every agent our profile's credential, its markings and
 * whether it matches the source. Exit codes follow `moltbot models status --check`.
 */
import type { Marking } from "../reconcile/cooldown.js";
import { formatDuration, formatWhen } from "../core/duration.js";
import { SourceError, AuthSyncError, messageOf } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import { ANTHROPIC, profileSecret } from "../reconcile/profile.js";
import { parseRefreshFence } from "../reconcile/fence.js";
import { type TokenBook, ownedBy } from "../sources/token-book.js";
import { type GatewayAuth, type NeverTried, neverTried } from "../reconcile/profile-order.js";
import { type FenceFinding, type ProofFacts, fenceFindings } from "../reconcile/recovery.js";
import type { StoreAdapter } from "../stores/adapter.js";
import type { Agent } from "../stores/discovery/agents.js";
import { agentName, storeFile } from "../stores/discovery/gateway.js";
import { SETUP_TOKEN_WARNING_MS } from "../sources/setup-token.js";
import { LOGIN_END_FIX, loginEndStage, loginEndText } from "../reconcile/login-end.js";
import type { AuthProfileStore, SourceCredential } from "../types.js";

const STATUS_OK = 0;
export const STATUS_UNUSABLE = 1;
export const STATUS_EXPIRING = 2;

export interface ProfileStatus {
  profileId: string;
  /** False when the store does not hold the profile. */
  present: boolean;
  type?: string;
  fingerprint?: string;
  expires?: number;
  /** Whether the stored secret is the one the source offers now. */
  matchesSource?: boolean;
  /** A refresh fence the gateway left in place of the credential: no token, and its `expires: 1` no date. */
  fence?: "pending" | "failed";
  /** A profile we recovered from a failed refresh, kept in step with the Claude login since. */
  recovered?: boolean;
  /** A left-over token we once put there (`token set`, then `token clear`); else the gateway's or a person's. */
  ours?: boolean;
}

/** A failed or pending refresh, or a profile sharing the login's refresh token, with what to do about it. */
export interface FenceStatus extends FenceFinding {
  /** One line: what it is and the command that fixes it (a failed refresh, a shared refresh token). */
  advice?: string;
}

/** How `status` judges refresh fences (reconcile/recovery.ts): the login's facts, and what we recovered. */
export interface StatusRecovery {
  facts: ProofFacts;
  /** The login's access token now, which a recovered profile should hold. */
  accessToken?: string | undefined;
  /** Whether we recovered this profile id in the agent's gateway. */
  recovered: (profileId: string) => boolean;
  advice: (agent: string, finding: FenceFinding) => string | undefined;
}

export interface AgentStatus {
  agent: string;
  /** The agent's state dir, when several gateways are served (`Gateways.stateDirLabel`). */
  stateDir?: string;
  file: string;
  /** One entry per profile we keep: the Claude login's and every setup-token's. */
  profiles: ProfileStatus[];
  /** Where the gateway keeps auth itself (SQLite era): every other Anthropic profile the agent reads. */
  otherProfiles?: ProfileStatus[];
  /** Active cooldowns and disables, for every profile in the store. */
  markings: Marking[];
  /** Static token profiles no source offers now, e.g. a setup-token left in the agent after `token clear`. */
  leftovers?: ProfileStatus[];
  /** Where the gateway leaves refresh fences: every fence, and every profile sharing the login's refresh token. */
  fences?: FenceStatus[];
  /** Profiles of ours the agent holds that the gateway's order never reaches (reconcile/profile-order.ts). */
  neverTried?: NeverTried[];
  error?: string;
}

export type SourceStatus =
  | {
      ok: true;
      origin: string;
      fingerprint: string;
      expiresAt: number;
      hasRefreshToken: boolean;
      /** The login's hard end (epoch ms), when the CLI records it. */
      loginEndsAt?: number;
    }
  | { ok: false; problem: string; error: string };

export function sourceStatus(read: SourceCredential | Error): SourceStatus {
  if (read instanceof Error) {
    const problem = read instanceof SourceError ? read.problem : read instanceof AuthSyncError ? read.code : "error";
    return { ok: false, problem, error: messageOf(read) };
  }
  return {
    ok: true,
    origin: read.origin,
    fingerprint: fingerprint(read.accessToken),
    expiresAt: read.expiresAt,
    hasRefreshToken: Boolean(read.refreshToken),
    ...(read.loginEndsAt !== undefined ? { loginEndsAt: read.loginEndsAt } : {}),
  };
}

function profileStatus(
  store: AuthProfileStore | undefined,
  profileId: string,
  offered: string | undefined,
): ProfileStatus {
  const profile = store?.profiles[profileId];
  if (!profile) return { profileId, present: false };
  const fence = parseRefreshFence(profile)?.state;
  if (fence) return { profileId, present: true, type: String(profile.type), fence };
  const secret = profileSecret(profile);
  return {
    profileId,
    present: true,
    type: String(profile.type),
    fingerprint: fingerprint(secret),
    ...(typeof profile.expires === "number" ? { expires: profile.expires } : {}),
    ...(offered !== undefined ? { matchesSource: secret === offered } : {}),
  };
}

/**
 * What judges an agent's profiles beyond its store: which ones the gateway ever tries (its config's `auth`; the
 * login profiles' ids are registered as oauth), and which held tokens are ours (sources/token-book.ts).
 */
export interface AgentContext {
  auth: GatewayAuth | undefined;
  loginIds: ReadonlySet<string>;
  book?: TokenBook;
}

/** `expected` maps each profile id we keep to the secret its source offers now (undefined when unknown). */
export async function agentStatus(
  agent: Agent,
  adapter: StoreAdapter,
  expected: ReadonlyMap<string, string | undefined>,
  now: number,
  recovery?: StatusRecovery,
  order?: AgentContext,
): Promise<AgentStatus> {
  const file = storeFile(agent);
  try {
    const store = await adapter.read(agent.dir);
    const profiles = [...expected].map(([id, offered]) => profileStatus(store, id, offered));
    const ordered = adapter.files(agent.dir)[0]!;
    const never = profiles
      .filter((p) => p.present && order)
      .map((p) =>
        neverTried(p.profileId, order!.loginIds.has(p.profileId) ? "oauth" : "token", order!.auth, store, ordered),
      )
      .filter((n) => n !== undefined);
    const neverTriedPart = never.length ? { neverTried: never } : {};
    const markings = adapter.usage.markings(store?.usageStats, now);
    if (adapter.format === "sqlite") {
      // The SQLite era: the login has no profile of its own by default, so every Anthropic profile is listed.
      const others = Object.keys(store?.profiles ?? {})
        .filter((id) => !expected.has(id) && store?.profiles[id]?.provider === ANTHROPIC)
        .sort()
        .map((id) => {
          const ours = recovery?.recovered(id) === true;
          return {
            ...profileStatus(store, id, ours ? recovery?.accessToken : undefined),
            ...(ours ? { recovered: true } : {}),
          };
        });
      const fences = recovery
        ? fenceFindings(store, recovery.facts)
            .filter((f) => !(f.kind === "shared" && recovery.recovered(f.profileId)))
            .map((f) => ({ ...f, ...withAdvice(recovery.advice(agent.id, f)) }))
        : [];
      const file = adapter.files(agent.dir)[0]!;
      const found = {
        profiles,
        otherProfiles: others,
        markings,
        ...(fences.length ? { fences } : {}),
        ...neverTriedPart,
      };
      return { agent: agent.id, file, ...found };
    }
    const leftovers = Object.entries(store?.profiles ?? {})
      .filter(([id, p]) => !expected.has(id) && p.type === "token" && p.provider === ANTHROPIC)
      .filter(([, p]) => p.expires === undefined)
      .map(([id, p]) => {
        const secret = profileSecret(p);
        const ours = secret !== undefined && ownedBy(order?.book?.[id] ?? [])(secret);
        return { ...profileStatus(store, id, undefined), ...(ours ? { ours } : {}) };
      });
    return { agent: agent.id, file, profiles, markings, ...(leftovers.length ? { leftovers } : {}), ...neverTriedPart };
  } catch (err) {
    return { agent: agent.id, file, profiles: [], markings: [], error: messageOf(err) };
  }
}

const withAdvice = (advice: string | undefined) => (advice === undefined ? {} : { advice });

export interface StatusVerdict {
  code: number;
  /** Why the code is not 0, in one line: which profile, where, and until or since when. */
  why?: string;
  /** The Claude login itself is why (its source, its end), not an agent's copy. */
  aboutLogin?: true;
}

/** The windows in which `status` warns (exit 2), from the config. */
export interface StatusWarnings {
  /** `expiryWarning`: the login's access token and its copies. */
  expiryWarning: number;
  /** `loginEndWarning`: the login's hard end. */
  loginEndWarning: number;
}

/** A setup-token as `status` judges it: its expiry is unknown for the environment's and for very old entries. */
export interface SetupTokenExpiry {
  profileId: string;
  expires?: number;
}

/**
 * 1 when anything is expired, missing or unusable, or the login is past its end; 2 when something expires within
 * its warning window: `expiryWarning` for the login's copies, SETUP_TOKEN_WARNING_MS (30 days) for a setup-token and
 * its copies, and `loginEndWarning` for the login's end, which wins over the others (only a person can move it).
 * The login counts unless the host runs on setup-tokens alone (no login at all, and tokens to sync).
 */
const SYNC_FIX = "moltbot-auth-sync sync";
const why = (reason: string | undefined) => (reason ? ` (${reason})` : "");

/** As `sync` says it: a cooldown ends on its own; a disable needs its cause gone, then `--force`. */
function markingFix(marking: Marking): string {
  const clear = `moltbot-auth-sync cooldown clear --profile ${marking.profile}`;
  if (marking.kind === "cooldown") return `wait for it to end, or run \`${clear}\` once its cause is gone`;
  return `remove its cause (${marking.reason ?? "unknown"}), then run \`${clear} --force\``;
}

export function statusVerdict(
  source: SourceStatus,
  agents: readonly AgentStatus[],
  now: number,
  warnings: StatusWarnings,
  loginOptional: boolean,
  setupTokens: readonly SetupTokenExpiry[] = [],
): StatusVerdict {
  const expiryWarningMs = warnings.expiryWarning;
  const login = { warnMs: expiryWarningMs, rule: `within expiryWarning, ${formatDuration(expiryWarningMs)}` };
  const endsAt = source.ok ? source.loginEndsAt : undefined;
  const end = loginEndStage(endsAt, now, warnings.loginEndWarning);
  const endWhy = () => {
    const rule = end === "ending" ? ` (loginEndWarning, ${formatDuration(warnings.loginEndWarning)})` : "";
    return `${loginEndText(endsAt!, now)}${rule}. Fix: ${LOGIN_END_FIX}`;
  };
  if (end === "ended") return { code: STATUS_UNUSABLE, why: endWhy(), aboutLogin: true };
  const setupToken = {
    warnMs: SETUP_TOKEN_WARNING_MS,
    rule: `a setup-token warns ${formatDuration(SETUP_TOKEN_WARNING_MS)} ahead`,
  };
  const tokenIds = new Set(setupTokens.map((t) => t.profileId));
  const expiries: Array<{ at: number; what: string; warnMs: number; rule: string }> = [];
  if (source.ok) expiries.push({ at: source.expiresAt, what: `the Claude login ${source.fingerprint}`, ...login });
  else if (!(loginOptional && source.problem === "not_logged_in")) return { code: STATUS_UNUSABLE, why: source.error };
  for (const token of setupTokens) {
    if (token.expires !== undefined)
      expiries.push({ at: token.expires, what: `setup-token ${token.profileId}`, ...setupToken });
  }
  for (const agent of agents) {
    const name = agentName(agent.agent, agent.stateDir);
    if (agent.error) return { code: STATUS_UNUSABLE, why: `agent ${name}: ${agent.error}` };
    for (const profile of agent.profiles) {
      const id = profile.profileId;
      if (!profile.present) return { code: STATUS_UNUSABLE, why: `${id} is missing in ${name}. Fix: ${SYNC_FIX}` };
      const marking = agent.markings.find((m) => m.profile === id);
      if (marking) {
        const kind = `${marking.kind === "cooldown" ? "in cooldown" : marking.kind}${why(marking.reason)}`;
        const left = formatDuration(marking.until - now);
        return { code: STATUS_UNUSABLE, why: `${id} is ${kind} in ${name} for ${left}. Fix: ${markingFix(marking)}` };
      }
      const what = `${profile.profileId} in ${name}`;
      if (profile.expires !== undefined)
        expiries.push({ at: profile.expires, what, ...(tokenIds.has(profile.profileId) ? setupToken : login) });
    }
    // A failed refresh is never used again: unusable until recovered. A pending one settles on its own.
    const failed = agent.fences?.find((f) => f.kind === "failed");
    if (failed)
      return { code: STATUS_UNUSABLE, why: failed.advice ?? `${failed.profileId} in ${name}: its refresh failed` };
    // A profile we recovered is ours: it expires with the login's token.
    for (const profile of agent.otherProfiles ?? []) {
      if (profile.recovered && profile.expires !== undefined)
        expiries.push({ at: profile.expires, what: `${profile.profileId} in ${name}`, ...login });
    }
  }
  const expired = expiries.find((e) => e.at <= now);
  if (expired) return { code: STATUS_UNUSABLE, why: `${expired.what} expired ${formatWhen(expired.at, now)}` };
  if (end === "ending") return { code: STATUS_EXPIRING, why: endWhy(), aboutLogin: true };
  const soonest = expiries.filter((e) => e.at - now <= e.warnMs).sort((a, b) => a.at - b.at)[0];
  if (!soonest) return { code: STATUS_OK };
  return { code: STATUS_EXPIRING, why: `${soonest.what} expires ${formatWhen(soonest.at, now)} (${soonest.rule})` };
}
