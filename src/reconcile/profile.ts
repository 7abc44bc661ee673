/**
 * The one pure step of the pipeline: given what a source offers and what an agent's store holds now,
 * decide what the store should hold. No I/O and no clock, so every rule here is tested as data.
 */
import { isDeepStrictEqual } from "node:util";
import { type UsageRules, isCredentialMarking } from "./cooldown.js";
import { PENDING_FENCE, isPendingFence } from "./fence.js";
import type { SkipCode } from "./usage.js";
import { fingerprint } from "../core/fingerprint.js";
import { type AuthProfileStore, type ProfileCredential, type SourceCredential, MAX_EXPIRY_AHEAD_MS } from "../types.js";

export type CredentialType = "token" | "oauth";

export const ANTHROPIC = "anthropic";

/** Secret fields that belong to one credential type and must not linger when the type changes. */
const TYPE_FIELDS: Record<CredentialType, readonly string[]> = { token: ["token"], oauth: ["access", "refresh"] };

/**
 * The profile to write. The default `token` type carries no refresh token, so the gateway can never
 * spend the CLI's refresh token and log `claude` out; `oauth` copies it for gateways that want it, and
 * falls back to `token` when the source has none.
 */
export function desiredProfile(source: SourceCredential, type: CredentialType): ProfileCredential {
  if (type === "oauth" && source.refreshToken) {
    return {
      type: "oauth",
      provider: ANTHROPIC,
      access: source.accessToken,
      refresh: source.refreshToken,
      expires: source.expiresAt,
    };
  }
  return { type: "token", provider: ANTHROPIC, token: source.accessToken, expires: source.expiresAt };
}

export type ProfileOutcome =
  | {
      result: "written";
      why: "missing" | "changed";
      /** Markings a fresh credential cleared, with the first failure's time. */ recovered?: { since?: number };
    }
  | { result: "unchanged" }
  | { result: "removed" }
  | { result: "skipped"; reason: string; code?: SkipCode };

export interface Reconciled {
  /** The store to write; the input object itself when nothing changes. */
  next: AuthProfileStore;
  outcome: ProfileOutcome;
}

/** The secret a profile carries, for fingerprints and comparisons. */
export function profileSecret(profile: Record<string, unknown> | undefined): string | undefined {
  const value = profile?.type === "oauth" ? profile.access : profile?.type === "token" ? profile.token : profile?.key;
  return typeof value === "string" ? value : undefined;
}

export interface ReconcileRules {
  /**
   * The offer is what the user stored (a setup-token): it replaces the profile's credential even when that
   * one expires later, since `token set` on the same id means "use this one now", whatever `--expires-in` says.
   */
  sourceDecides?: boolean;
  /**
   * Whether a held secret is ours to replace. Without it, every held token of our type is; with it (setup-tokens),
   * one the gateway's `paste-token` or a person put there is left as it is until `token set --replace` says so.
   */
  ours?: (secret: string) => boolean;
}

/**
 * Puts `desired` under `profileId`, keeping the profile's unknown fields (email, clientId, …) and every
 * other part of the store. Never replaces a credential that expires later than the offered one, and
 * never replaces a credential type that is not ours to manage. A genuinely fresh credential (another
 * token, expiring later) also clears the profile's credential markings by the store generation's rules (`usage`):
 * that is what recovery means.
 */
export function reconcileProfile(
  store: AuthProfileStore,
  profileId: string,
  desired: ProfileCredential,
  usage: UsageRules,
  rules: ReconcileRules = {},
): Reconciled {
  const current = store.profiles[profileId];
  if (current) {
    if (isPendingFence(current)) {
      return { next: store, outcome: { result: "skipped", reason: PENDING_FENCE, code: "pending-fence" } };
    }
    if (current.type !== "token" && current.type !== "oauth") {
      return {
        next: store,
        outcome: {
          result: "skipped",
          reason: `profile holds a ${String(current.type)} credential, which is not ours to replace`,
        },
      };
    }
    // Another provider's credential under our id was put there by someone else: it is theirs, not ours.
    if (typeof current.provider === "string" && current.provider !== desired.provider) {
      const holds = `profile holds a ${JSON.stringify(current.provider)} credential`;
      const reason = `${holds}, not ${desired.provider}: not ours to replace`;
      return { next: store, outcome: { result: "skipped", reason } };
    }
    const held = profileSecret(current);
    if (rules.ours && held !== undefined && held !== profileSecret(desired) && !rules.ours(held)) {
      const reason = `holds ${fingerprint(held)}, which moltbot-auth-sync did not put there: left as it is`;
      const fix = `moltbot-auth-sync token set --profile ${profileId} --replace`;
      return {
        next: store,
        outcome: { result: "skipped", reason: `${reason} (${fix} replaces it)`, code: "not-ours" },
      };
    }
    const storedExpires = typeof current.expires === "number" ? current.expires : undefined;
    if (
      !rules.sourceDecides &&
      storedExpires !== undefined &&
      desired.expires !== undefined &&
      storedExpires > desired.expires &&
      // An expiry this far past a real login's is forged (sources refuse such input); it must not pin the store.
      storedExpires <= desired.expires + MAX_EXPIRY_AHEAD_MS &&
      profileSecret(current) !== profileSecret(desired)
    ) {
      return {
        next: store,
        outcome: {
          result: "skipped",
          reason: `stored ${fingerprint(profileSecret(current))} expires later than the source's`,
        },
      };
    }
  }
  const merged: Record<string, unknown> = { ...current, ...desired };
  for (const field of TYPE_FIELDS[desired.type === "oauth" ? "token" : "oauth"]) delete merged[field];
  if (!("expires" in desired)) delete merged.expires;
  if (current && isDeepStrictEqual(merged, current)) return { next: store, outcome: { result: "unchanged" } };
  const next: AuthProfileStore = { ...store, profiles: { ...store.profiles, [profileId]: merged } };
  const stats = store.usageStats?.[profileId];
  const fresher =
    current !== undefined &&
    profileSecret(current) !== profileSecret(desired) &&
    (rules.sourceDecides || !(typeof current.expires === "number" && (desired.expires ?? Infinity) <= current.expires));
  if (fresher && stats && isCredentialMarking(stats)) {
    next.usageStats = { ...store.usageStats, [profileId]: usage.clearMarking(stats) };
    const since = typeof stats.lastFailureAt === "number" ? stats.lastFailureAt : undefined;
    return { next, outcome: { result: "written", why: "changed", recovered: since !== undefined ? { since } : {} } };
  }
  return { next, outcome: { result: "written", why: current ? "changed" : "missing" } };
}
