/**
 * Refresh fences in the gateway's shape (openclaw@2026.9.6 `createOAuthRefreshFence`, `createFailedOAuthRefreshFence`),
 * for unit tests; the interop tests let the real gateway make its own.
 */
import { createHash, randomBytes } from "node:crypto";
import { randomToken } from "./env.js";

const digest = (profileId: string, provider: string, kind: string, secret: string) =>
  createHash("sha256")
    .update(JSON.stringify(["openclaw.oauth-refresh-generation", 1, profileId, provider, kind, secret]))
    .digest("hex");

/** The profile the gateway leaves while it refreshes `credential` (pending), or after that refresh failed. */
export function fenced(
  profileId: string,
  credential: { provider: string; access: string; refresh: string; [key: string]: unknown },
  state: "pending" | "failed",
): Record<string, unknown> {
  const { access, refresh, expires: _expires, idToken: _id, oauthRef: _ref, copyToAgents: _copy, ...rest } = credential;
  const claim = randomBytes(16).toString("hex");
  const failed = state === "failed" ? "failed:" : "";
  const marker = (kind: string, secret: string) =>
    `openclaw-oauth-refresh-fence:v1:${claim}:${failed}${kind}:${digest(profileId, credential.provider, kind, secret)}`;
  return {
    ...rest,
    type: "oauth",
    provider: credential.provider,
    access: marker("access", access),
    refresh: marker("refresh", refresh),
    expires: 1,
  };
}

/** A live `oauth` profile holding `refresh`, an hour from expiry: what the gateway fences when it refreshes. */
export const oauthProfile = (refresh = randomToken("ort"), extra: Record<string, unknown> = {}) => ({
  type: "oauth",
  provider: "anthropic",
  access: randomToken(),
  refresh,
  expires: Date.now() + 3_600_000,
  ...extra,
});
