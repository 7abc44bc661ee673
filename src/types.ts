/** The shapes that flow through the pipeline: sources → reconcile → stores. */

/**
 * A login lives hours; an expiry further ahead than this is forged or corrupt. Taken as real, it would pin
 * its token in every store for good, since a store's credential that expires later is never replaced.
 */
export const MAX_EXPIRY_AHEAD_MS = 400 * 24 * 3600_000;

/** A credential as a source gives it, before it is shaped into a gateway profile. */
export interface SourceCredential {
  /** Where it was read, for messages: a file path or a keychain service. Never secret. */
  origin: string;
  accessToken: string;
  /** Absent for setup-tokens and refresh-less logins. */
  refreshToken?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /**
   * The login's hard end (Claude Code's `refreshTokenExpiresAt`, epoch ms): refreshing never moves it later, and
   * after it only a new sign-in gives a token. Absent from CLIs that do not write it, and for setup-tokens.
   */
  loginEndsAt?: number;
  subscriptionType?: string | null;
  /** `claudeAiOauth.accountUuid` (Claude Code 2.1.33x): which Claude account the login is. Not secret. */
  accountUuid?: string;
}

/** A long-lived setup-token as a source keeps it (sources/setup-token.ts). */
export interface SetupToken {
  profileId: string;
  token: string;
  /** "OS keyring …", a file path, or "env CLAUDE_CODE_OAUTH_TOKEN". */
  origin: string;
  savedAt?: number;
  /** Epoch ms; undefined when unknown (an old entry without `savedAt`, or the environment's token). */
  expires?: number;
  /** Digests of the tokens under this id that are ours to replace (sources/token-book.ts), its own included. */
  ours?: ReadonlySet<string>;
}

/** The gateway's `token` credential (`src/agents/auth-profiles/types.ts`). */
export interface TokenProfile {
  type: "token";
  provider: string;
  token: string;
  expires?: number;
  [unknown: string]: unknown;
}

/** The gateway's `oauth` credential. */
export interface OAuthProfile {
  type: "oauth";
  provider: string;
  access: string;
  refresh: string;
  expires: number;
  [unknown: string]: unknown;
}

export type ProfileCredential = TokenProfile | OAuthProfile;

/** `usageStats[profileId]`: all times are epoch milliseconds. */
export interface ProfileUsageStats {
  lastUsed?: number;
  cooldownUntil?: number;
  disabledUntil?: number;
  disabledReason?: string;
  errorCount?: number;
  failureCounts?: Record<string, number>;
  lastFailureAt?: number;
  [unknown: string]: unknown;
}

/** `auth-profiles.json` as parsed; unknown keys are kept and written back. */
export interface AuthProfileStore {
  version?: number;
  profiles: Record<string, Record<string, unknown>>;
  order?: Record<string, string[]>;
  lastGood?: Record<string, string>;
  usageStats?: Record<string, ProfileUsageStats>;
  [unknown: string]: unknown;
}
