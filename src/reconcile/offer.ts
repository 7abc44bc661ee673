/**
 * What the sources' credentials become for the stores: one offer per profile id, each built once per run. The
 * login's shape follows `credentialType` (profile.ts); a setup-token is always the gateway's `token` profile.
 */
import type { Config } from "../config/config.js";
import type { ProfileCredential, SetupToken, SourceCredential, TokenProfile } from "../types.js";
import { ANTHROPIC, desiredProfile } from "./profile.js";

/** A credential some source offers for one profile id, ready for the stores. */
export interface Offer {
  kind: "claude-login" | "setup-token";
  profileId: string;
  profile: ProfileCredential;
  origin: string;
  /** A setup-token's: digests of the held tokens it may replace (the gateway's own are not among them). */
  ours?: ReadonlySet<string>;
}

export function loginOffer(login: SourceCredential, config: Pick<Config, "profileId" | "credentialType">): Offer {
  return {
    kind: "claude-login",
    profileId: config.profileId,
    profile: desiredProfile(login, config.credentialType),
    origin: login.origin,
  };
}

export function setupTokenProfile(token: string, expires?: number): TokenProfile {
  return { type: "token", provider: ANTHROPIC, token, ...(expires !== undefined ? { expires } : {}) };
}

/** One offer per setup-token, except under a profile id a login owns: the login's copy wins there. */
export function setupTokenOffers(
  tokens: readonly SetupToken[],
  loginProfiles: ReadonlySet<string> = new Set(),
): Offer[] {
  return tokens
    .filter((t) => !loginProfiles.has(t.profileId))
    .map((t) => ({
      kind: "setup-token",
      profileId: t.profileId,
      profile: setupTokenProfile(t.token, t.expires),
      origin: t.origin,
      ...(t.ours ? { ours: t.ours } : {}),
    }));
}
