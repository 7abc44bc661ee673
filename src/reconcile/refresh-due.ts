/**
 * When to ask `claude` to refresh, and with which command: pure decisions (as certbot's `should_renew`), taken by
 * `sync` and by the daemon's scheduler alike. The refresh itself is claude's; we never spend a refresh token.
 */
import type { Config } from "../config/config.js";
import type { SourceCredential } from "../types.js";

/** `claude` refreshes only this close to `expiresAt` (or after a 401): before it, a run changes nothing. */
export const CLI_REFRESH_WINDOW_MS = 5 * 60_000;

/** The moment a refresh falls due: `refreshMargin` before the token expires. */
export function refreshDueAt(login: SourceCredential, refreshMargin: number): number {
  return login.expiresAt - refreshMargin;
}

/** When claude's own window opens: before it, only a model request that gets a 401 makes claude refresh. */
export function cliWindowOpens(login: SourceCredential): number {
  return login.expiresAt - CLI_REFRESH_WINDOW_MS;
}

/**
 * Whether the login is past its end, by its date or because claude said so of this very token (`endedToken`):
 * claude cannot renew it, and each run would only say so again. A new login has another token.
 */
export function loginHasEnded(login: SourceCredential, now: number, endedToken?: string): boolean {
  const pastEnd = login.loginEndsAt !== undefined && now >= login.loginEndsAt;
  return pastEnd || login.accessToken === endedToken;
}

export interface RefreshGate {
  /** A gateway marking asks for a refresh whatever the margin says. */
  force: boolean;
  /** The end of the backoff after a failed run (0 when none). */
  notBefore: number;
  /** The token claude said has reached its end, if any. */
  endedToken?: string | undefined;
}

/** Due inside the margin (or forced), unless backing off or past the login's end. */
export function refreshDue(login: SourceCredential, refreshMargin: number, now: number, gate: RefreshGate): boolean {
  if (now < gate.notBefore || loginHasEnded(login, now, gate.endedToken)) return false;
  return gate.force || now >= refreshDueAt(login, refreshMargin);
}

/**
 * `refreshCommand` (`claude mcp serve`) spends no model request but refreshes only inside claude's window. Before
 * it, after a gateway marking, only a model request that gets a 401 makes claude refresh; and from the second
 * attempt on, the fallback also covers a CLI whose `mcp serve` does not refresh (before 2.1.48 it neither
 * refreshes nor exits).
 */
export function refreshCommand(
  config: Pick<Config, "refreshCommand" | "fallbackRefreshCommand">,
  login: SourceCredential,
  now: number,
  options: { force: boolean; attempt: number },
): string[] {
  const beforeWindow = now < cliWindowOpens(login);
  return (options.force && beforeWindow) || options.attempt > 0 ? config.fallbackRefreshCommand : config.refreshCommand;
}
