import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { type AgentReport, syncAgents } from "../../src/pass/apply.js";
import type { StoreAdapter } from "../../src/stores/adapter.js";
import { jsonV1Adapter } from "../../src/stores/json-v1/adapter.js";
import { PassProgress } from "../../src/pass/progress.js";
import { randomToken, withHome } from "../helpers/env.js";

test("pass: each agent's report is told as that agent finishes, before the others", () =>
  withHome(async (t) => {
    const agents = ["fast", "slow"].map((id) => ({ id, dir: t.agentDir(id), stateDir: t.stateDir }));
    for (const a of agents) mkdirSync(a.dir, { recursive: true });
    let toldFast!: () => void;
    const fastTold = new Promise<void>((resolve) => (toldFast = resolve));
    // The slow agent's write waits until the fast one has been reported: it never ends if reports wait for the pass.
    const adapter: StoreAdapter = {
      ...jsonV1Adapter,
      update: async (dir, change, options) => {
        if (dir === agents[1]!.dir) await fastTold;
        return jsonV1Adapter.update(dir, change, options);
      },
    };
    const told: string[] = [];
    const onReport = (report: AgentReport) => {
      told.push(`${report.agent} ${report.result}`);
      if (report.agent === "fast") toldFast();
    };
    const desired = { type: "token" as const, provider: "anthropic", token: randomToken() };
    const pass = syncAgents(
      { agents, adapter },
      "anthropic:claude-cli",
      desired,
      { lockTimeoutMs: 1000 },
      {},
      onReport,
    );
    const reports = await Promise.race([pass, sleep(5_000).then(() => assert.fail(`stuck; told: ${told.join(", ")}`))]);
    assert.deepEqual(told, ["fast written", "slow written"]);
    assert.deepEqual(
      reports.map((r) => r.agent),
      ["fast", "slow"],
    );
  }));

test("pass progress: shown every 2 s while a pass runs, never for a short one or at its end", () => {
  let now = 0;
  const lines: string[] = [];
  const show = (done: number, total: number) => lines.push(`${done} of ${total}`);
  const short = new PassProgress(() => now, 3, show);
  for (let i = 0; i < 3; i++) short.done();
  assert.deepEqual(lines, []);
  const long = new PassProgress(() => now, 10_000, show);
  for (let i = 1; i <= 10_000; i++) {
    now = i; // one agent a millisecond: a 10 s pass
    long.done();
  }
  assert.deepEqual(lines, ["2000 of 10000", "4000 of 10000", "6000 of 10000", "8000 of 10000"]);
});
