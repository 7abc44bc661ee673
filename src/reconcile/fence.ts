/**
 * The gateway's OAuth refresh fences, read as openclaw@2026.9.6 reads them (`oauth-refresh-marker.ts` in its
 * credential-state chunk). While it refreshes a stored `oauth` profile, the gateway replaces its secrets with
 * digests (`…:<claim>:access:<digest>`, `…:<claim>:refresh:<digest>`, `expires: 1`): a pending fence, which
 * only that refresh may settle. A failed refresh rewrites it as `…:<claim>:failed:…`, which the gateway never
 * uses or refreshes again. Pure; the digests are the gateway's, so ours compare with its own.
 */
import { createHash } from "node:crypto";

const FENCE_PREFIX = "openclaw-oauth-refresh-fence:v1:";
const ACCESS_FENCE = /^openclaw-oauth-refresh-fence:v1:([a-f0-9]{32}):(failed:)?access:([a-f0-9]{64})$/;
const REFRESH_FENCE = /^openclaw-oauth-refresh-fence:v1:([a-f0-9]{32}):(failed:)?refresh:([a-f0-9]{64})$/;

export interface RefreshFence {
  /** Pending while the gateway's refresh may still settle it; failed for good once it did not. */
  state: "pending" | "failed";
  claimId: string;
  /** The gateway's digest of the refresh token the profile held when the refresh began. */
  refreshDigest: string;
}

/** The fence a profile is, by the gateway's exact rules (`parseOAuthRefreshFence`); undefined for anything else. */
export function parseRefreshFence(profile: Record<string, unknown> | undefined): RefreshFence | undefined {
  if (profile?.type !== "oauth" || profile.expires !== 1) return undefined;
  if (typeof profile.access !== "string" || typeof profile.refresh !== "string") return undefined;
  const access = ACCESS_FENCE.exec(profile.access);
  const refresh = REFRESH_FENCE.exec(profile.refresh);
  if (!access || !refresh || access[1] !== refresh[1] || access[2] !== refresh[2]) return undefined;
  return { state: access[2] ? "failed" : "pending", claimId: access[1]!, refreshDigest: refresh[3]! };
}

/** What a pass meeting a pending fence says: the gateway's refresh owns the profile until it settles. */
export const PENDING_FENCE =
  "the gateway is refreshing it (a pending refresh fence): left alone, looked at again on the next pass";

export const isPendingFence = (profile: Record<string, unknown> | undefined): boolean =>
  parseRefreshFence(profile)?.state === "pending";

export const isFailedFence = (profile: Record<string, unknown> | undefined): boolean =>
  parseRefreshFence(profile)?.state === "failed";

/** Whether a secret field holds a fence's digest rather than a token (for output: a fence is no token). */
export const isFenceSecret = (value: unknown): boolean => typeof value === "string" && value.startsWith(FENCE_PREFIX);

/** `buildOAuthRefreshSecretDigest`: the digest of one secret, bound to its profile id and provider. */
export function refreshSecretDigest(profileId: string, provider: string, secret: string): string {
  const input = JSON.stringify(["openclaw.oauth-refresh-generation", 1, profileId, provider, "refresh", secret]);
  return createHash("sha256").update(input).digest("hex");
}

/**
 * `readOAuthRefreshGenerationDigest`: which single-use refresh token an `oauth` profile is, whether it still holds
 * the token or a fence of it. Undefined for a profile that holds no refresh token.
 */
export function refreshGeneration(profileId: string, profile: Record<string, unknown> | undefined): string | undefined {
  const fence = parseRefreshFence(profile);
  if (fence) return fence.refreshDigest;
  if (profile?.type !== "oauth" || typeof profile.refresh !== "string" || typeof profile.provider !== "string")
    return undefined;
  return refreshSecretDigest(profileId, profile.provider, profile.refresh);
}

/**
 * Whether the profile holds (or was fenced from) this refresh token: the Claude login's own, when it is the
 * login's.
 */
export function holdsRefreshToken(
  profileId: string,
  profile: Record<string, unknown> | undefined,
  refreshToken: string | undefined,
): boolean {
  if (!refreshToken || typeof profile?.provider !== "string") return false;
  return refreshGeneration(profileId, profile) === refreshSecretDigest(profileId, profile.provider, refreshToken);
}
