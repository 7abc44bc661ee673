/** How a pass is summed up, per agent. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Failure } from "../../src/reconcile/failure.js";
import { type PassResult, passActed, passSummary } from "../../src/pass/pass.js";
import type { AgentReport } from "../../src/pass/apply.js";

const dead: Failure = { reason: "auth", needsLogin: true, message: "claude is not logged in" };
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
