/**
 * Failure classification as data: the gateway's patterns, the CLI's re-login texts, what a refresh run means, and
 * when a credential counts as unusable.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SourceError } from "../../src/core/errors.js";
import {
  type Failure,
  askAuthStatus,
  classifyFailure,
  failureFromOutput,
  loginFailureOf,
  markingKind,
  refreshFailureOf,
  unusableFailure,
} from "../../src/reconcile/failure.js";
import { randomToken } from "../helpers/env.js";

test("classifyFailure follows the gateway's patterns and order", () => {
  assert.equal(classifyFailure("API Error: 429 rate_limit_error"), "rate_limit");
  assert.equal(classifyFailure("Overloaded"), "rate_limit");
  assert.equal(classifyFailure("402 Payment Required"), "billing");
  assert.equal(classifyFailure("request timed out"), "timeout");
  assert.equal(classifyFailure("OAuth token refresh failed for anthropic"), "auth");
  assert.equal(classifyFailure("API Error: 401 authentication_error"), "auth");
  assert.equal(classifyFailure("rate limit while refreshing: 401"), "rate_limit", "the first matching reason wins");
  assert.equal(classifyFailure("getaddrinfo ENOTFOUND platform.claude.com"), "unknown");
});

test("failureFromOutput: auth and the CLI's re-login texts need a person; a rate limit never does", () => {
  assert.equal(failureFromOutput("OAuth token refresh failed: invalid_grant", "x").needsLogin, true);
  assert.equal(failureFromOutput("Not logged in · Please run /login", "x").needsLogin, true);
  assert.equal(failureFromOutput("Login reached its time limit · Please run /login", "x").needsLogin, true);
  assert.equal(failureFromOutput("OAuth token revoked · Please run /login", "x").needsLogin, true);
  const limited = failureFromOutput("429 rate_limit_error: please run /login later", "x");
  assert.deepEqual([limited.reason, limited.needsLogin], ["rate_limit", false]);
  assert.equal(
    failureFromOutput("Failed to refresh OAuth token: another Claude Code process is refreshing it", "x").needsLogin,
    false,
  );
});

const ran = { timedOut: false, output: "" };
const facts = { file: "/usr/bin/claude", timeoutMs: 120_000 };

test("refreshFailure: a spawn error, a timeout and claude's own words each decide the reason", () => {
  const spawn = { ...ran, spawnError: "Command failed with ENOENT: claude -p hi\nspawn claude ENOENT" };
  assert.deepEqual(refreshFailureOf(spawn, facts), {
    reason: "unknown",
    needsLogin: false,
    message: "cannot run /usr/bin/claude: spawn claude ENOENT",
  });
  assert.equal(askAuthStatus(spawn), false, "a program that never started has no status to ask");
  const timedOut = { ...ran, timedOut: true };
  assert.equal(refreshFailureOf(timedOut, facts).reason, "timeout");
  assert.match(refreshFailureOf(timedOut, facts).message, /within 120 s/);
  assert.equal(askAuthStatus(timedOut), false);
  const exited = { ...ran, exitCode: 1, output: "starting\nAPI Error: 429 rate_limit_error" };
  assert.equal(askAuthStatus(exited), true);
  assert.deepEqual(refreshFailureOf(exited, facts), {
    reason: "rate_limit",
    needsLogin: false,
    message: "claude exited 1 and the token did not change",
    detail: "API Error: 429 rate_limit_error",
  });
  const loggedOut = refreshFailureOf(exited, { ...facts, loggedIn: false });
  assert.deepEqual([loggedOut.reason, loggedOut.needsLogin], ["auth", true], "auth status outranks the output");
  assert.equal(refreshFailureOf(exited, { ...facts, loggedIn: true }).reason, "rate_limit");
});

test("loginFailureOf: no login at all needs a person; an unreadable one does not", () => {
  assert.equal(loginFailureOf(new SourceError("no login", "not_logged_in")).needsLogin, true);
  assert.equal(loginFailureOf(new Error("EACCES")).needsLogin, false);
  assert.equal(markingKind(loginFailureOf(new SourceError("no login", "not_logged_in"))), "disabled (auth)");
});

const HOUR = 3_600_000;
const now = Date.now();
const login = (expiresAt: number) => ({ origin: "test", accessToken: randomToken(), expiresAt });
const broken: Failure = { reason: "unknown", needsLogin: false, message: "cannot run claude: ENOENT" };
const dead: Failure = { reason: "auth", needsLogin: true, message: "claude is not logged in" };

test("unusable: a refresher failure with a working token is no reason to mark", () => {
  assert.equal(unusableFailure({ login: login(now + 8 * HOUR), refreshFailure: broken }, now), undefined);
  assert.equal(unusableFailure({ login: login(now + 8 * HOUR) }, now), undefined);
  assert.equal(unusableFailure({ login: login(now - HOUR) }, now), undefined, "expired, but no refresh has failed yet");
});

test("unusable: a dead login, an expired token that could not be refreshed, no login at all", () => {
  assert.equal(unusableFailure({ login: login(now + 8 * HOUR), refreshFailure: dead }, now), dead);
  const expired = unusableFailure({ login: login(now - 60_000), refreshFailure: broken }, now);
  assert.equal(expired?.reason, "auth");
  assert.equal(expired?.needsLogin, false);
  assert.match(expired.message, /^sk-ant-oat01-…\S{4} expired 1m ago and claude could not refresh it \(cannot run/);
  assert.equal(unusableFailure({ login: undefined, loginFailure: dead }, now), dead);
});
