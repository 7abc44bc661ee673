/**
 * Agent ids and dirs from the gateway config are resolved as the gateway resolves them, and never make
 * `sync` create a folder or write a store outside `<state>/agents/` (issue 11, section 4).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { discoverAgents, normalizeAgentId, readGatewayConfig } from "../../src/stores/discovery/agents.js";
import { runCli, withHome } from "../helpers/env.js";
import { snapshotTree } from "../helpers/tree.js";

const ID = "anthropic:claude-cli";

test("agent ids are normalised as the gateway's normalizeAgentId does; an id with nothing left is rejected", () => {
  assert.equal(normalizeAgentId("main"), "main");
  assert.equal(normalizeAgentId(" Work "), "work");
  assert.equal(normalizeAgentId("../../../tmp/x"), "tmp-x");
  assert.equal(normalizeAgentId("a/b"), "a-b");
  assert.equal(normalizeAgentId("a\nb\u001b[31m"), "a-b-31m");
  assert.equal(normalizeAgentId("x".repeat(80) + "/"), "x".repeat(64));
  for (const rejected of ["..", "../..", "/", "~", "\u001b"]) {
    assert.equal(normalizeAgentId(rejected), undefined, rejected);
  }
});

test("agents.list: traversal ids stay under agents/; relative and missing outside dirs are skipped, warned", () =>
  withHome(async (t) => {
    const outside = path.join(t.home, "outside-agent");
    mkdirSync(outside);
    const list = [
      { id: "../../../tmp/x" },
      { id: "a/b" },
      { id: "../.." },
      { id: "rel", agentDir: "relative/agent" },
      { id: "gone", agentDir: path.join(t.root, "no-such-dir", "agent") },
      { id: "ext", agentDir: "~/outside-agent" },
      { id: "dotdot", agentDir: `${t.stateDir}/agents/../../escape` },
    ];
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify({ agents: { list } }));
    const warnings: string[] = [];
    const agents = await discoverAgents(t.stateDir, await readGatewayConfig(t.stateDir, t.env), t.env, warnings);
    assert.deepEqual(
      agents.map((a) => [a.id, a.dir]),
      [
        ["tmp-x", t.agentDir("tmp-x")],
        ["a-b", t.agentDir("a-b")],
        ["ext", outside],
      ],
    );
    assert.equal(warnings.length, 4, warnings.join("\n"));
    assert.match(warnings[0]!, /agent id "\.\.\/\.\." .* the gateway rejects it; skipped/);
    assert.match(warnings[1]!, /agent rel: agentDir "relative\/agent" .* is relative/);
    assert.match(warnings[2]!, /agent gone: agentDir .*no-such-dir\/agent does not exist and is outside .*; not made/);
    assert.match(warnings[3]!, /agent dotdot: agentDir .*\/escape does not exist/);
  }));

test("sync with hostile agents.list creates nothing outside <state>/agents/ and warns once per skipped agent", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    const cwd = path.join(t.root, "cwd");
    mkdirSync(cwd);
    const list = [
      { id: "../../../x" },
      { id: "a/b" },
      { id: "../.." },
      { id: "rel", agentDir: "rel/agent" },
      { id: "abs", agentDir: path.join(t.root, "abs") },
    ];
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify({ agents: { list } }));
    const before = snapshotTree(t.root);
    const r = await runCli(["sync"], t.env, { cwd });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const agentsRoot = path.relative(t.root, path.join(t.stateDir, "agents"));
    const ownState = path.relative(t.root, t.env.XDG_STATE_HOME!);
    const created = Object.keys(snapshotTree(t.root)).filter((p) => !(p in before));
    const ours = (p: string) => p.startsWith(agentsRoot) || ownState.startsWith(p) || p.startsWith(ownState);
    const outside = created.filter((p) => !ours(p));
    assert.deepEqual(outside, [], "nothing made outside <state>/agents/ and our own state folder");
    assert.equal(existsSync(path.join(cwd, "rel")), false);
    assert.equal(t.readStore("x").profiles[ID].token, cred.accessToken);
    assert.equal(t.readStore("a-b").profiles[ID].token, cred.accessToken);
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("warning: "));
    assert.equal(warnings.length, 3, r.stderr);
  }));
