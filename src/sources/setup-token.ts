/**
 * Source: long-lived setup-tokens (`claude setup-token`: one year, inference only, no refresh), from
 * `token set` or from `CLAUDE_CODE_OAUTH_TOKEN` in the daemon's environment. Each is synced as the
 * gateway's `{type: "token"}` profile, under its own profile id.
 */
import { DAY, HOUR, MINUTE, SECOND } from "../core/duration.js";
import { AuthSyncError } from "../core/errors.js";
import { scrubSecrets } from "../log/logger.js";
import type { SetupToken } from "../types.js";
import { MAX_DATE_MS, type StoredToken, type TokenMap, type TokenVault, tokenVaults } from "./token-vault.js";
import { type TokenBook, readTokenBook, tokenDigest } from "./token-book.js";

/** The gateway's own rules and messages (`src/commands/auth-token.ts`). */
export const SETUP_TOKEN_PREFIX = "sk-ant-oat01-";
export const SETUP_TOKEN_MIN_LENGTH = 80;
/**
 * What follows the prefix: base64url, the alphabet the log scrubber knows a token by. The gateway checks only the
 * prefix and length, so a NUL, ESC or BEL pasted inside would otherwise reach every agent.
 */
const SETUP_TOKEN_BODY = /^[A-Za-z0-9_-]+$/;

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
  if (!SETUP_TOKEN_BODY.test(token.slice(SETUP_TOKEN_PREFIX.length)))
    throw new InvalidSetupToken("Token holds a character a setup-token cannot: only letters, digits, - and _");
  return token;
}

/** `claude setup-token` makes tokens that last a year: the expiry of one stored without `--expires-in`. */
export const SETUP_TOKEN_LIFETIME_MS = 365 * DAY;
/** `status` exits 2, and the daemon logs `token.expiring`, this long before a setup-token expires. */
export const SETUP_TOKEN_WARNING_MS = 30 * DAY;

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY };
/** One number with an optional unit (days when none), as the gateway's `paste-token --expires-in` reads it. */
const SINGLE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
/** A composite such as `1d12h`: every segment has its unit, and nothing sits between them. */
const SEGMENT = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

export class InvalidExpiresIn extends AuthSyncError {
  constructor(raw: string) {
    // Scrubbed whole, then cut short: a token pasted into the wrong flag must not be printed, even in part.
    const scrubbed = scrubSecrets(raw);
    const shown = JSON.stringify(scrubbed.length > 40 ? `${scrubbed.slice(0, 40)}…` : scrubbed);
    super(`--expires-in ${shown}: expected a duration such as 365d, 12h or 1d12h (a bare number is days)`, "usage");
  }
}

/**
 * How long `--expires-in` says a token stored at `now` lasts, in ms, with the syntax of the gateway's `models auth
 * paste-token --expires-in`: trimmed, any case, units ms, s, m, h, d (m is minutes), a bare number is days,
 * decimals allowed, segments may be joined (`1d12h`); zero, and a date past Date's range, are refused.
 */
export function parseExpiresIn(raw: string, now: number = Date.now()): number {
  const text = raw.trim().toLowerCase();
  let total = 0;
  const single = SINGLE.exec(text);
  if (single) total = Number(single[1]) * UNIT_MS[single[2] ?? "d"]!;
  else {
    SEGMENT.lastIndex = 0;
    let consumed = 0;
    for (let match = SEGMENT.exec(text); match; match = SEGMENT.exec(text)) {
      total += Number(match[1]) * UNIT_MS[match[2]!]!;
      consumed = SEGMENT.lastIndex;
    }
    if (consumed === 0 || consumed !== text.length) throw new InvalidExpiresIn(raw);
  }
  const ms = Math.round(total);
  if (text.length > 100 || !Number.isSafeInteger(ms) || ms <= 0 || now + ms > MAX_DATE_MS)
    throw new InvalidExpiresIn(raw);
  return ms;
}

/**
 * When a stored token expires: as recorded by `token set`, else a year from when it was stored (a version
 * that kept `savedAt` but no expiry), else unknown. An entry without `savedAt` is not dated by the vault
 * file's mtime: the file holds every token and is rewritten by each `token set`, and a keyring entry has no
 * mtime, so that date could only be later than the truth and the warning would come too late.
 */
export function storedTokenExpiry(stored: StoredToken): number | undefined {
  if (stored.expires !== undefined) return stored.expires;
  return stored.savedAt > 0 ? stored.savedAt + SETUP_TOKEN_LIFETIME_MS : undefined;
}

/**
 * Every setup-token to sync: the stored ones, then the environment's under `envProfileId` unless one is stored
 * there.
 */
export async function readSetupTokens(
  envProfileId: string,
  env: NodeJS.ProcessEnv = process.env,
  vaults?: TokenVault[],
): Promise<SetupToken[]> {
  const found = new Map<string, SetupToken>();
  // A book that cannot be read knows nothing ours: held tokens other than the offered one are then left alone.
  const book = await readTokenBook(env).catch((): TokenBook => ({}));
  const ours = (profileId: string, token: string) => new Set([...(book[profileId] ?? []), tokenDigest(token)]);
  for (const vault of vaults ?? (await tokenVaults(env))) {
    let tokens: TokenMap;
    try {
      tokens = await vault.read();
    } catch {
      continue;
    }
    for (const [profileId, stored] of Object.entries(tokens)) {
      // The keyring and the file can both hold an id: a `token set` while the keyring was locked went to the file.
      // The later stored wins, so a keyring unlocked again does not bring back the token that one replaced.
      const held = found.get(profileId);
      if (!held || stored.savedAt > (held.savedAt ?? 0))
        found.set(profileId, {
          profileId,
          token: stored.token,
          origin: vault.where,
          savedAt: stored.savedAt,
          expires: storedTokenExpiry(stored),
          ours: ours(profileId, stored.token),
        });
    }
  }
  // The environment says nothing of when its token was made: its expiry is unknown, and it is synced without one.
  const fromEnv = env[ENV_TOKEN]?.trim();
  if (fromEnv && !found.has(envProfileId)) {
    try {
      const token = validateSetupToken(fromEnv);
      found.set(envProfileId, {
        profileId: envProfileId,
        token,
        origin: `env ${ENV_TOKEN}`,
        ours: ours(envProfileId, token),
      });
    } catch {
      // An invalid env token is reported by `token status` and `doctor`; it is never synced.
    }
  }
  return [...found.values()];
}
