/** The Claude login's hard end as data: where a login stands, and a refresh that meets the end is a dead login. */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { parseConfig } from "../src/config/config.js";
import {
  askAuthStatus,
  loginEndFailure,
  loginFixOf,
  refreshFailureOf,
  unusableFailure,
} from "../src/reconcile/failure.js";
import { LOGIN_END_FIX, loginEndStage, saysLoginEnded } from "../src/reconcile/login-end.js";
import { Refresher } from "../src/refresh/refresher.js";
import { readClaudeLogin } from "../src/sources/index.js";
import type { SourceCredential } from "../src/types.js";
import { fakeClaudeRuns, installFakeClaude } from "./helpers/daemon.js";
import { leakedTokens, randomToken, withHome } from "./helpers/env.js";

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

test("refresher: never due for a login past its end, forced or not; a file without the end is due as before", () => {
  const config = parseConfig({}, "test");
  const refresher = new Refresher(() => Promise.reject(new Error("unused")), {}, new AbortController().signal);
  const dueToken = { expiresAt: NOW + 60_000 };
  assert.equal(refresher.isDue(login({ ...dueToken, loginEndsAt: NOW }), config, NOW, false), false);
  assert.equal(refresher.isDue(login({ ...dueToken, loginEndsAt: NOW }), config, NOW, true), false);
  assert.equal(refresher.isDue(login({ ...dueToken, loginEndsAt: NOW + 1 }), config, NOW, false), true);
  assert.equal(refresher.isDue(login(dueToken), config, NOW, false), true);
});

test("refresher: after claude says the time limit, that login is never run for again; a new sign-in is", () =>
  withHome(async (t) => {
    const control = installFakeClaude(t, "timelimit");
    t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const config = parseConfig({ claudePath: path.join(t.root, "bin", "claude") }, "test");
    const signal = new AbortController().signal;
    const refresher = new Refresher(() => readClaudeLogin(config, t.env), t.env, signal);
    const before = await readClaudeLogin(config, t.env);
    assert.equal(refresher.isDue(before, config, Date.now(), false), true);
    const result = await refresher.run(before, config, false);
    assert.equal(result.outcome, "failed");
    if (result.outcome !== "failed") return;
    assert.equal(result.failure.loginEnded, true);
    assert.match(result.failure.detail!, /^Failed to authenticate: this login reached its time limit/);
    // One run: neither `claude auth status` nor anything else after it.
    assert.deepEqual(
      fakeClaudeRuns(control)
        .filter((r) => r.what === "start")
        .map((r) => r.args),
      ["mcp serve"],
    );
    const later = Date.now() + 3_600_000;
    assert.equal(refresher.isDue(before, config, later, true), false, "not after the backoff, not forced");
    assert.equal(refresher.hasEnded(before, later), true);
    t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const signedIn = await readClaudeLogin(config, t.env);
    assert.equal(refresher.isDue(signedIn, config, later, false), true, "claude auth login gave a new login");
    assert.deepEqual(leakedTokens(JSON.stringify(result), t.planted), []);
  }));
