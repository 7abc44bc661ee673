/**
 * Recovery from a failed refresh (reconcile/fence.ts): the profile becomes the Claude login's current access token
 * as a `token` profile (no refresh token, so the gateway can never spend one), its markings cleared, and from then
 * on it is kept fresh like our own profile. Pure: which profile may be recovered, as proof, and the store change.
 */
import type { SkipCode } from "./usage.js";
import { type UsageRules, isCredentialMarking } from "./cooldown.js";
import { PENDING_FENCE, holdsRefreshToken, isPendingFence, parseRefreshFence, refreshGeneration } from "./fence.js";
import { ANTHROPIC, type ProfileOutcome, type Reconciled, reconcileProfile } from "./profile.js";
import type { AuthProfileStore, TokenProfile } from "../types.js";

/** Who the Claude login is, as Claude Code records it; every field may be unknown. */
export interface LoginAccount {
  /** `claudeAiOauth.accountUuid`, or `oauthAccount.accountUuid` in `.claude.json`. */
  accountUuid?: string;
  /** `oauthAccount.emailAddress` in `.claude.json`, which the gateway itself copies into the profiles it imports. */
  email?: string;
}

const identity = (value: unknown): string | undefined =>
  typeof value === "string" && value.trim() ? value.trim() : undefined;

/**
 * The gateway's identity rule (`isSafeToCopyOAuthIdentity`): account ids decide when both sides have one, else
 * emails, case-insensitively. Where it lets a missing identity pass, here it proves nothing.
 */
export function accountMatch(
  profile: Record<string, unknown>,
  account: LoginAccount | undefined,
): "same" | "different" | "unknown" {
  const [profileId, loginId] = [identity(profile.accountId), identity(account?.accountUuid)];
  if (profileId !== undefined && loginId !== undefined) return profileId === loginId ? "same" : "different";
  const [profileEmail, loginEmail] = [identity(profile.email), identity(account?.email)];
  if (profileEmail !== undefined && loginEmail !== undefined)
    return profileEmail.toLowerCase() === loginEmail.toLowerCase() ? "same" : "different";
  return "unknown";
}

/** The facts that may prove a profile is the Claude login's account. */
export interface ProofFacts {
  account?: LoginAccount | undefined;
  /** The login's refresh token now. */
  refreshToken?: string | undefined;
  /** Digests (fence.ts) of refresh tokens the login held, computed for the profiles that held them. */
  knownDigests?: ReadonlySet<string>;
}

export type Proof = "account" | "refresh token";

/**
 * Why switching this profile to the login keeps it on the same Claude account, or undefined when nothing proves
 * it: the identity the gateway stored beside it matches the login's, or the refresh token it held (or was fenced
 * from) is one the login held. A known, different identity is never overruled.
 */
export function sameAccountProof(
  profileId: string,
  profile: Record<string, unknown>,
  facts: ProofFacts,
): Proof | undefined {
  const match = accountMatch(profile, facts.account);
  if (match === "same") return "account";
  if (match === "different") return undefined;
  if (holdsRefreshToken(profileId, profile, facts.refreshToken)) return "refresh token";
  const digest = parseRefreshFence(profile)?.refreshDigest;
  return digest !== undefined && facts.knownDigests?.has(digest) ? "refresh token" : undefined;
}

/** The account a switch would move the profile to, for messages: the login's email, else its account id. */
export function accountText(account: LoginAccount | undefined): string {
  return identity(account?.email) ?? identity(account?.accountUuid) ?? "the Claude login's account (unknown name)";
}

/**
 * What may be recovered: a failed fence, or (before it breaks) an `oauth` profile holding the login's refresh
 * token.
 */
export function recoverable(profileId: string, profile: Record<string, unknown> | undefined, refreshToken?: string) {
  // The login's token is an Anthropic credential: another provider's profile is never switched to it.
  if (profile?.provider !== ANTHROPIC) return false;
  if (parseRefreshFence(profile)?.state === "failed") return true;
  return profile.type === "oauth" && !isPendingFence(profile) && holdsRefreshToken(profileId, profile, refreshToken);
}

export interface RecoveryRules {
  /** The store generation's cooldown rules: its `clearMarking` clears cooldowns and failure counters. */
  usage: UsageRules;
  /** The login's refresh token now: an `oauth` profile holding it may be recovered before it breaks. */
  refreshToken?: string | undefined;
}

const skipped = (store: AuthProfileStore, reason: string, code?: SkipCode): Reconciled => ({
  next: store,
  outcome: { result: "skipped", reason, ...(code ? { code } : {}) },
});

/** Replaces a recoverable profile (`recoverable`) by `desired`, keeping its other fields, and clears its markings. */
export function recoverProfile(
  store: AuthProfileStore,
  profileId: string,
  desired: TokenProfile,
  rules: RecoveryRules,
): Reconciled {
  const current = store.profiles[profileId];
  if (!current) return skipped(store, `no ${profileId} profile`, "no-profile");
  if (isPendingFence(current)) return skipped(store, PENDING_FENCE, "pending-fence");
  if (!recoverable(profileId, current, rules.refreshToken)) {
    // Another agent reading the same store recovered it a moment ago.
    if (current.type === "token" && current.token === desired.token)
      return { next: store, outcome: { result: "unchanged" } };
    return skipped(store, "its refresh has not failed and it holds no refresh token of the Claude login");
  }
  const { access: _access, refresh: _refresh, expires: _expires, ...rest } = current;
  const next: AuthProfileStore = { ...store, profiles: { ...store.profiles, [profileId]: { ...rest, ...desired } } };
  const stats = store.usageStats?.[profileId];
  const outcome: ProfileOutcome = { result: "written", why: "changed" };
  if (stats) {
    next.usageStats = { ...store.usageStats, [profileId]: rules.usage.clearMarking(stats) };
    if (isCredentialMarking(stats)) {
      const since = typeof stats.lastFailureAt === "number" ? { since: stats.lastFailureAt } : {};
      return { next, outcome: { ...outcome, recovered: since } };
    }
  }
  return { next, outcome };
}

/**
 * A recovered profile from then on: kept fresh with the login's token by the rules of our own profile, recovered
 * again where a copy still holds a failed fence, never added where it is missing, and let go where someone made it
 * a live `oauth` profile again (signed in through the gateway): then it is theirs.
 */
export function keepRecovered(
  store: AuthProfileStore,
  profileId: string,
  desired: TokenProfile,
  rules: RecoveryRules,
): Reconciled {
  const current = store.profiles[profileId];
  // A missing profile and a pending fence get recoverProfile's answers; a recoverable one is recovered again.
  if (!current || isPendingFence(current) || recoverable(profileId, current, rules.refreshToken))
    return recoverProfile(store, profileId, desired, rules);
  if (current.type !== "token")
    return skipped(store, `holds ${String(current.type)} credentials again (signed in anew?): no longer kept by us`);
  return reconcileProfile(store, profileId, desired, rules.usage);
}

/** A profile the gateway fenced, or one that shares the login's refresh token (the cause of most failed fences). */
export interface FenceFinding {
  profileId: string;
  /** failed: its refresh failed for good; pending: the gateway is refreshing it; shared: it holds the login's own. */
  kind: "failed" | "pending" | "shared";
  /** For a failed fence: what proves it is the login's account, when something does. */
  proof?: Proof;
}

/** Every Anthropic profile of the store that is fenced or holds the login's refresh token, by id. */
export function fenceFindings(store: AuthProfileStore | undefined, facts: ProofFacts): FenceFinding[] {
  const found: FenceFinding[] = [];
  for (const [profileId, profile] of Object.entries(store?.profiles ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (profile?.provider !== ANTHROPIC) continue;
    const fence = parseRefreshFence(profile);
    if (fence?.state === "failed") {
      const proof = sameAccountProof(profileId, profile, facts);
      found.push({ profileId, kind: "failed", ...(proof ? { proof } : {}) });
    } else if (fence) found.push({ profileId, kind: "pending" });
    else if (profile.type === "oauth" && holdsRefreshToken(profileId, profile, facts.refreshToken))
      found.push({ profileId, kind: "shared" });
  }
  return found;
}

/**
 * The digests to remember from this store: every profile that holds (or is being refreshed from) the login's refresh
 * token now. Should its refresh fail, its failed fence carries the same digest, which then proves it was the login's.
 */
export function loginRefreshDigests(store: AuthProfileStore | undefined, refreshToken: string | undefined): string[] {
  if (!refreshToken) return [];
  return Object.entries(store?.profiles ?? {})
    .filter(([id, profile]) => profile?.type === "oauth" && holdsRefreshToken(id, profile, refreshToken))
    .map(([id, profile]) => refreshGeneration(id, profile)!);
}
