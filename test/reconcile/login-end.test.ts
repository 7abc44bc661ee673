/** The Claude login's hard end as data: where a login stands, and a refresh that meets the end is a dead login. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  askAuthStatus,
  loginEndFailure,
  loginFixOf,
  refreshFailureOf,
  unusableFailure,
} from "../../src/reconcile/failure.js";
import { LOGIN_END_FIX, loginEndStage, saysLoginEnded } from "../../src/reconcile/login-end.js";
import type { SourceCredential } from "../../src/types.js";
import { randomToken } from "../helpers/env.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 9, 20, 12);
/** Claude Code 2.1.318+ past the login's end, word for word. */
const TIME_LIMIT =
  "Failed to authenticate: this login reached its time limit and cannot be renewed. Run `claude auth login` to " +
  "sign in again, or use `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN for unattended jobs";

const login = (fields: Partial<SourceCredential> = {}): SourceCredential => ({
  origin: "test",
  accessToken: randomToken(),
  expiresAt: NOW + 6 * 3_600_000,
  ...fields,
});

test("loginEndStage: quiet before the window, ending inside it, ended from the very end on; no end, no stage", () => {
  const end = NOW + 10 * DAY;
  assert.equal(loginEndStage(end, NOW - 1, 10 * DAY), undefined);
  assert.equal(loginEndStage(end, NOW, 10 * DAY), "ending", "the window's first millisecond");
  assert.equal(loginEndStage(end, end - 1, 10 * DAY), "ending");
  assert.equal(loginEndStage(end, end, 10 * DAY), "ended");
  assert.equal(loginEndStage(undefined, end + DAY, 10 * DAY), undefined);
});

test("a login past its end is unusable whatever its token's own expiry; before it, only a dead refresh is", () => {
  const ended = login({ loginEndsAt: NOW - 3_600_000 });
  const failure = unusableFailure({ login: ended }, NOW)!;
  assert.equal(failure.needsLogin, true);
  assert.equal(failure.loginEnded, true);
  assert.equal(failure.reason, "auth");
  assert.equal(
    failure.message,
    "the Claude login reached its time limit 1h ago (2026-10-20 11:00 UTC) and cannot be renewed",
  );
  assert.equal(loginFixOf(failure), LOGIN_END_FIX);
  assert.match(LOGIN_END_FIX, /`claude auth login`.*`claude setup-token`, then `moltbot-auth-sync token set`/);
  assert.equal(unusableFailure({ login: login({ loginEndsAt: NOW + 1 }) }, NOW), undefined, "a second left: it works");
  assert.equal(unusableFailure({ login: login() }, NOW), undefined, "a file without the field: as before");
  assert.equal(loginEndFailure(undefined, NOW), undefined);
});

test("claude's time-limit answer is a dead login, whatever else it printed, and needs no `claude auth status`", () => {
  const facts = { file: "claude", timeoutMs: 120_000, loggedIn: true };
  for (const output of [
    TIME_LIMIT,
    `API Error: 429 rate_limit_error\n${TIME_LIMIT}\nrequest timed out`,
    "Login reached its time limit · Please run /login",
  ]) {
    const run = { exitCode: 1, timedOut: false, output };
    const failure = refreshFailureOf(run, facts);
    assert.equal(failure.reason, "auth", output);
    assert.equal(failure.needsLogin, true, output);
    assert.equal(failure.loginEnded, true, output);
    assert.equal(failure.message, "claude says the login reached its time limit and cannot be renewed");
    assert.match(failure.detail!, /reached its time limit/, "the line that said it, not merely the last one");
    assert.equal(askAuthStatus(run), false);
    assert.equal(saysLoginEnded(output), true);
  }
  const other = refreshFailureOf(
    { exitCode: 1, timedOut: false, output: "OAuth token refresh failed: invalid_grant" },
    facts,
  );
  assert.equal(other.needsLogin, true);
  assert.equal(other.loginEnded, undefined, "another dead login is not an ended one");
  assert.equal(loginFixOf(other) === LOGIN_END_FIX, false);
});
