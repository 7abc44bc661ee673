/**
 * The Claude login's hard end (Claude Code's `refreshTokenExpiresAt`): refreshing never moves it later, and after
 * it `claude` refuses to renew ("this login reached its time limit and cannot be renewed"), so only a person
 * signing in again, or a setup-token, gives a working credential. Pure: the caller passes the time.
 */
import { formatDuration, formatUtc, formatWhen } from "../core/duration.js";

/** What a person does about it: either way out, each a command. */
export const LOGIN_END_FIX =
  "on this host, sign in again with `claude auth login`; for unattended use, `claude setup-token`, " +
  "then `moltbot-auth-sync token set`";

/** How `claude` words it when a refresh meets the end (2.1.x; also "Login reached its time limit · …"). */
const TIME_LIMIT = /reached its time limit/i;

/** Whether a `claude` run said the login has reached its end. */
export function saysLoginEnded(output: string): boolean {
  return TIME_LIMIT.test(output);
}

/** The line of a `claude` run's output that said the login has reached its end, if one did. */
export function loginEndedLine(output: string): string | undefined {
  return output.split("\n").find((line) => TIME_LIMIT.test(line));
}

/** Where the login stands against its end: "ended", "ending" (within `warnMs`), or undefined (no end in sight). */
export function loginEndStage(end: number | undefined, now: number, warnMs: number): "ended" | "ending" | undefined {
  if (end === undefined) return undefined;
  if (now >= end) return "ended";
  return end - now <= warnMs ? "ending" : undefined;
}

/** "the Claude login ends in 9d23h (2026-01-11 00:00 UTC) and cannot be renewed past it", or that it has ended. */
export function loginEndText(endsAt: number, now: number): string {
  // From the very end on it is past ("0s ago"), never "in 0s".
  return now >= endsAt
    ? `the Claude login reached its time limit ${formatDuration(now - endsAt)} ago (${formatUtc(endsAt)}) ` +
        "and cannot be renewed"
    : `the Claude login ends ${formatWhen(endsAt, now)} and cannot be renewed past it`;
}
