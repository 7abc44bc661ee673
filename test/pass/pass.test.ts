/**
 * One login's pass directly over in-memory stores: what it copies, marks and leaves alone, agent by agent, with no
 * files, locks or daemon in the way. Times are hours away from now, so no machine is slow enough to matter.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import type { Failure } from "../../src/reconcile/failure.js";
import { type PassInput, type PassResult, passActed, passReports, passSummary, runPass } from "../../src/pass/pass.js";
import type { AgentReport } from "../../src/pass/apply.js";
import { loginOffer, setupTokenOffers } from "../../src/reconcile/offer.js";
import { randomToken } from "../helpers/env.js";
import { MemoryStores } from "../helpers/memory-store.js";

const HOUR = 3_600_000;
const MINE = "anthropic:login";
const config = parseConfig({ profileId: MINE, credentialType: "token" }, "test");
const login = (expiresAt = Date.now() + 8 * HOUR) => ({ origin: "test", accessToken: randomToken(), expiresAt });
const dead: Failure = { reason: "auth", needsLogin: true, message: "claude is not logged in" };

function input(memory: MemoryStores, ids: readonly string[], more: Partial<PassInput> = {}): PassInput {
  const held = login();
  return {
    stores: [{ agents: memory.agents(ids), adapter: memory.adapter }],
    config,
    login: held,
    loginOffer: loginOffer(held, config),
    setupOffers: [],
    options: { lockTimeoutMs: 1 },
    ...more,
  };
}

const results = (reports: ReturnType<typeof passReports>) =>
  Object.fromEntries(reports.map((r) => [`${r.agent} ${r.profile}`, r.result]));

test("pass: the login's token reaches every agent once; the next run finds them in step and writes nothing", async () => {
  const memory = new MemoryStores();
  const first = input(memory, ["main", "work"]);
  const result = await runPass(first);
  assert.deepEqual(results(passReports(result)), { [`main ${MINE}`]: "written", [`work ${MINE}`]: "written" });
  for (const dir of memory.stores.keys()) {
    assert.equal(memory.stores.get(dir)!.profiles[MINE]?.token, first.login!.accessToken);
  }
  const again = await runPass({
    ...first,
    stores: [{ agents: memory.agents(["main", "work"]), adapter: memory.adapter }],
  });
  assert.deepEqual(results(passReports(again)), { [`main ${MINE}`]: "unchanged", [`work ${MINE}`]: "unchanged" });
  assert.equal(memory.written.length, 2);
});

test("pass: a dead login marks our profile in every agent, and touches no other profile", async () => {
  const memory = new MemoryStores();
  const other = { type: "token", provider: "anthropic", token: randomToken() };
  const held = { type: "token", provider: "anthropic", token: randomToken(), expires: Date.now() + HOUR };
  const agents = memory.agents(["main", "work"], { version: 1, profiles: { [MINE]: held, "anthropic:manual": other } });
  const result = await runPass({
    ...input(memory, []),
    stores: [{ agents, adapter: memory.adapter }],
    login: undefined,
    loginOffer: undefined,
    loginFailure: dead,
    occurrence: "new",
  });
  assert.equal(result.marking?.failure, dead);
  assert.deepEqual(
    result.marking.reports.map((r) => r.result),
    ["marked", "marked"],
  );
  for (const agent of agents) {
    const store = memory.stores.get(agent.dir)!;
    assert.ok(memory.adapter.usage.isMarked(store.usageStats![MINE], Date.now()), `${agent.id} marked`);
    assert.equal(store.usageStats?.["anthropic:manual"], undefined);
    assert.deepEqual(store.profiles["anthropic:manual"], other);
  }
});

test("pass: an agent whose store fails is reported failed; the others are served, and setup-tokens still land", async () => {
  const memory = new MemoryStores();
  const pass = input(memory, ["main", "work"], {
    setupOffers: setupTokenOffers([{ profileId: "anthropic:team", token: randomToken(), origin: "vault" }]),
  });
  memory.failing.set(memory.agents(["work"])[0]!.dir, "EACCES: permission denied");
  const result = await runPass(pass);
  assert.deepEqual(results(passReports(result)), {
    [`main ${MINE}`]: "written",
    [`work ${MINE}`]: "failed",
    "main anthropic:team": "written",
    "work anthropic:team": "failed",
  });
  const failed = passReports(result).find((r) => r.agent === "work")!;
  assert.match(failed.reason ?? "", /EACCES/);
});

test("pass: a dry run decides the same and writes nothing", async () => {
  const memory = new MemoryStores();
  const result = await runPass({ ...input(memory, ["main"]), options: { lockTimeoutMs: 1, dryRun: true } });
  assert.deepEqual(results(passReports(result)), { [`main ${MINE}`]: "written" });
  assert.deepEqual(memory.written, []);
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
