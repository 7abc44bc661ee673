/** The pass's rules as data: when a credential counts as unusable, and how a pass is summed up. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Failure, unusableFailure } from "../src/reconcile/failure.js";
import { type PassResult, passActed, passSummary } from "../src/pass/pass.js";
import type { AgentReport } from "../src/pass/apply.js";
import { randomToken } from "./helpers/env.js";

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

const report = (agent: string, result: AgentReport["result"]): AgentReport => {
  return { agent, file: "", profile: "p", result, warnings: [] };
};
const profile = { type: "token" as const, provider: "anthropic", token: "t" };
const offer = { kind: "claude-login" as const, profileId: "p", profile, origin: "" };

test("summary: says what the pass did, per agent", () => {
  const wrote: PassResult = { copies: [{ offer, reports: [report("work", "written"), report("main", "written")] }] };
  assert.equal(passSummary(wrote), "synced 2 agents (main, work)");
  assert.equal(passActed(wrote), true);
  const same: PassResult = { copies: [{ offer, reports: [report("main", "unchanged"), report("work", "unchanged")] }] };
  assert.equal(passSummary(same), "2 agents unchanged");
  assert.equal(passActed(same), false);
  const none: PassResult = { copies: [], marking: { failure: dead, reports: [report("main", "marked")] } };
  assert.equal(passSummary(none, "not logged in"), "marked 1 agent (main)");
  const nothing: PassResult = { copies: [], marking: { failure: dead, reports: [report("main", "skipped")] } };
  assert.equal(passSummary(nothing, "not logged in"), "nothing synced: not logged in");
});
