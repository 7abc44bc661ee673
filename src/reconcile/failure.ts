/**
 * Failure classification, in one place: what went wrong, as the gateway names it, and whether only a person can
 * fix it. Callers report what happened (a program's exit, timeout, spawn error and output, claude's auth status,
 * a source's error); the rules here decide. Pure: no I/O and no clock of its own.
 */
import { formatRelative } from "../core/duration.js";
import { SourceError, messageOf } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import type { SourceCredential } from "../types.js";
import { LOGIN_END_FIX, loginEndText, loginEndedLine, saysLoginEnded } from "./login-end.js";

export type FailureReason = "auth" | "format" | "rate_limit" | "billing" | "timeout" | "unknown";

export interface Failure {
  reason: FailureReason;
  /** Only a person can fix it (log in again, or a setup-token): disable and keep it disabled. */
  needsLogin: boolean;
  /** The login reached its hard end (reconcile/login-end.ts): nothing may try to refresh it. */
  loginEnded?: true;
  /** One line, no secrets. */
  message: string;
  /** The last line the failing program printed (scrubbed): logged in a field, never in the message. */
  detail?: string;
}

/** One pattern matching any of `phrases` (regular-expression sources), so a long list stays readable. */
const anyOf = (...phrases: string[]) => new RegExp(phrases.join("|"));

/** The gateway's patterns (`classifyFailoverReason`), in its order, on lower-cased text. */
const PATTERNS: Array<[FailureReason, RegExp]> = [
  [
    "rate_limit",
    anyOf(
      "rate[_ ]limit",
      "too many requests",
      "\\b429\\b",
      "exceeded your current quota",
      "resource has been exhausted",
      "quota exceeded",
      "resource_exhausted",
      "usage limit",
      "overloaded",
    ),
  ],
  ["format", /string should match pattern|tool_use\.id|tool_use_id|invalid request format/],
  ["billing", /\b402\b|payment required|insufficient credits|credit balance|plans & billing/],
  ["timeout", /timeout|timed out|deadline exceeded/],
  [
    "auth",
    anyOf(
      "invalid[_ ]?api[_ ]?key",
      "incorrect api key",
      "invalid token",
      "authentication",
      "re-authenticate",
      "oauth token refresh failed",
      "unauthorized",
      "forbidden",
      "access denied",
      "expired",
      "token has expired",
      "\\b401\\b",
      "\\b403\\b",
      "no credentials found",
      "no api key found",
    ),
  ],
];

/** What the Claude CLI prints when only a new login helps (docs/sources.md). */
const NEEDS_LOGIN =
  /invalid_grant|revoked|\/login|log in again|not logged in|login expired|reached its time limit|claude auth login/;

export function classifyFailure(text: string): FailureReason {
  const lower = text.toLowerCase();
  return PATTERNS.find(([, pattern]) => pattern.test(lower))?.[0] ?? "unknown";
}

export function failureFromOutput(text: string, message: string): Failure {
  const reason = classifyFailure(text);
  const needsLogin = reason === "auth" || (reason === "unknown" && NEEDS_LOGIN.test(text.toLowerCase()));
  return { reason: needsLogin ? "auth" : reason, needsLogin, message };
}

/** What a run of `claude` did, as the runner reports it (refresh/claude-runner.ts `ClaudeRun`). */
export interface RunReport {
  exitCode?: number;
  timedOut: boolean;
  spawnError?: string;
  /** The end of its output, scrubbed. */
  output: string;
}

/**
 * The failure of a `claude` run that said the login reached its end (the file may not say when it was), with the
 * line that said it (scrubbed output, as the runner keeps it) as the detail.
 */
function saidLoginEndFailure(output: string): Failure {
  const message = "claude says the login reached its time limit and cannot be renewed";
  const detail = loginEndedLine(output)?.trim().slice(0, 200);
  return { reason: "auth", needsLogin: true, loginEnded: true, message, ...(detail ? { detail } : {}) };
}

/** What a refresh run that left the token as it was means. `loggedIn` is `claude auth status`, when it answered. */
export function refreshFailureOf(
  run: RunReport,
  facts: { file: string; timeoutMs: number; loggedIn?: boolean | undefined },
): Failure {
  // Log messages are one line: execa's message repeats the command line above the system's reason.
  if (run.spawnError) {
    return { reason: "unknown", needsLogin: false, message: `cannot run ${facts.file}: ${lastLine(run.spawnError)}` };
  }
  if (run.timedOut) {
    const message = `claude did not finish within ${Math.round(facts.timeoutMs / 1000)} s and was killed`;
    return { reason: "timeout", needsLogin: false, message };
  }
  // Whatever else it printed (a 429 on the way, an "expired"), this login is dead for good.
  if (saysLoginEnded(run.output)) return saidLoginEndFailure(run.output);
  if (facts.loggedIn === false) return { reason: "auth", needsLogin: true, message: "claude is not logged in" };
  const failure = failureFromOutput(run.output, `claude exited ${run.exitCode ?? "?"} and the token did not change`);
  const tail = lastLine(run.output).slice(0, 200);
  return tail ? { ...failure, detail: tail } : failure;
}

/**
 * Whether `claude auth status` can tell more: only a run that started and finished on its own printed anything,
 * and a run that said the login reached its end has said all.
 */
export function askAuthStatus(run: RunReport): boolean {
  return !run.spawnError && !run.timedOut && !saysLoginEnded(run.output);
}

/** What only a person can do when the login is dead. */
export const LOGIN_FIX =
  "on this host, run `claude` and then /login (or `claude auth login`); for unattended use, `claude setup-token`";

/** The command that fixes a dead login: an ended one has the setup-token way out spelled to the end. */
export function loginFixOf(failure: Failure): string {
  return failure.loginEnded ? LOGIN_END_FIX : LOGIN_FIX;
}

/** Why the source gave no login, as a failure to mark: no login at all needs a person. */
export function loginFailureOf(err: unknown): Failure {
  const missing = err instanceof SourceError && err.problem === "not_logged_in";
  return { reason: missing ? "auth" : "unknown", needsLogin: missing, message: messageOf(err) };
}

/** The failure of a login past its end (reconcile/login-end.ts): a dead login, whatever its token's own expiry says. */
export function loginEndFailure(login: SourceCredential | undefined, now: number): Failure | undefined {
  if (login?.loginEndsAt === undefined || now < login.loginEndsAt) return undefined;
  return { reason: "auth", needsLogin: true, loginEnded: true, message: loginEndText(login.loginEndsAt, now) };
}

/**
 * Whether the credential the agents hold cannot work, and why. A refresher that fails while the held token is
 * still valid (claude missing or hanging, no network, a rate limit on the refresh) is no reason: the token still
 * works, and marking it would make the gateway skip a healthy profile. A dead login, an expired token that
 * could not be refreshed, or no login at all are.
 */
export function unusableFailure(
  input: {
    login: SourceCredential | undefined;
    loginFailure?: Failure | undefined;
    refreshFailure?: Failure | undefined;
  },
  now: number,
): Failure | undefined {
  const { login, loginFailure, refreshFailure } = input;
  if (!login) return loginFailure;
  // Past its end the login is dead even while its last access token has hours left: claude will not renew it.
  const ended = loginEndFailure(login, now);
  if (ended) return ended;
  if (!refreshFailure) return undefined;
  if (refreshFailure.needsLogin) return refreshFailure;
  if (login.expiresAt > now) return undefined;
  // The gateway drops an expired token (it resolves to no credential): an auth failure, which a fresh token cures.
  const expired = `${fingerprint(login.accessToken)} expired ${formatRelative(login.expiresAt, now)}`;
  const message = `${expired} and claude could not refresh it (${refreshFailure.message})`;
  return { reason: "auth", needsLogin: false, message };
}

/** How a failure marks our profile, as `status` shows it: "disabled (auth)", "cooldown (timeout)". */
export function markingKind(failure: Failure): string {
  if (failure.needsLogin) return "disabled (auth)";
  return failure.reason === "billing" ? "disabled (billing)" : `cooldown (${failure.reason})`;
}

function lastLine(text: string): string {
  return text.trim().split("\n").pop()?.trim() ?? "";
}
