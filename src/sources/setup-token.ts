/**
 * Source: long-lived setup-tokens (`claude setup-token`: one year, inference only, no refresh), from
 * `token set` or from `CLAUDE_CODE_OAUTH_TOKEN` in the daemon's environment. Each is synced as the
 * gateway's `{type: "token"}` profile, under its own profile id.
 */
import { AuthSyncError } from "../core/errors.js";
import { ANTHROPIC } from "../reconcile/profile.js";
import type { TokenProfile } from "../types.js";
import { type TokenMap, type TokenVault, tokenVaults } from "./token-vault.js";

/** The gateway's own rules and messages (`src/commands/auth-token.ts`). */
export const SETUP_TOKEN_PREFIX = "sk-ant-oat01-";
export const SETUP_TOKEN_MIN_LENGTH = 80;

export const ENV_TOKEN = "CLAUDE_CODE_OAUTH_TOKEN";

export class InvalidSetupToken extends AuthSyncError {
  constructor(message: string) {
    super(message, "token.invalid");
  }
}

/** Returns the trimmed token, or throws the gateway's message (which never contains the token). */
export function validateSetupToken(raw: string): string {
  const token = raw.trim();
  if (!token.startsWith(SETUP_TOKEN_PREFIX))
    throw new InvalidSetupToken(`Expected token starting with ${SETUP_TOKEN_PREFIX}`);
  if (token.length < SETUP_TOKEN_MIN_LENGTH)
    throw new InvalidSetupToken("Token looks too short; paste the full setup-token");
  if (/\s/.test(token)) throw new InvalidSetupToken("Token contains whitespace; paste the setup-token on one line");
  return token;
}

export function setupTokenProfile(token: string): TokenProfile {
  return { type: "token", provider: ANTHROPIC, token };
}

export interface SetupToken {
  profileId: string;
  token: string;
  /** "OS keyring …", a file path, or "env CLAUDE_CODE_OAUTH_TOKEN". */
  origin: string;
  savedAt?: number;
}

/** Every setup-token to sync: the stored ones, then the environment's under `envProfileId` unless one is stored there. */
export async function readSetupTokens(
  envProfileId: string,
  env: NodeJS.ProcessEnv = process.env,
  vaults?: TokenVault[],
): Promise<SetupToken[]> {
  const found = new Map<string, SetupToken>();
  for (const vault of vaults ?? (await tokenVaults(env))) {
    let tokens: TokenMap;
    try {
      tokens = await vault.read();
    } catch {
      continue;
    }
    for (const [profileId, stored] of Object.entries(tokens)) {
      if (!found.has(profileId))
        found.set(profileId, { profileId, token: stored.token, origin: vault.where, savedAt: stored.savedAt });
    }
  }
  const fromEnv = env[ENV_TOKEN]?.trim();
  if (fromEnv && !found.has(envProfileId)) {
    try {
      found.set(envProfileId, {
        profileId: envProfileId,
        token: validateSetupToken(fromEnv),
        origin: `env ${ENV_TOKEN}`,
      });
    } catch {
      // An invalid env token is reported by `token status` and `doctor`; it is never synced.
    }
  }
  return [...found.values()];
}
