import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { discoverAgents, readGatewayConfig } from "../../src/stores/discovery/agents.js";
import { resolveStateDir } from "../../src/stores/discovery/state-dir.js";
import { makeHome, withHome } from "../helpers/env.js";

test("state dir: config beats env, env beats defaults, ~/.openclaw beats legacy dirs", () => {
  const t = makeHome({ stateName: ".clawdbot" });
  try {
    assert.equal(resolveStateDir(undefined, t.env)?.dir, path.join(t.home, ".clawdbot"));
    mkdirSync(path.join(t.home, ".moltbot"));
    assert.equal(
      resolveStateDir(undefined, t.env)?.dir,
      path.join(t.home, ".clawdbot"),
      "clawdbot before moltbot, as the gateway probes",
    );
    mkdirSync(path.join(t.home, ".openclaw"));
    const choice = resolveStateDir(undefined, t.env)!;
    assert.equal(choice.dir, path.join(t.home, ".openclaw"));
    assert.deepEqual(choice.alsoExisting.map((d) => path.basename(d)).sort(), [".clawdbot", ".moltbot"]);
    assert.equal(resolveStateDir(undefined, { ...t.env, CLAWDBOT_STATE_DIR: "/c" })?.dir, "/c");
    assert.equal(
      resolveStateDir(undefined, { ...t.env, MOLTBOT_STATE_DIR: "/m", CLAWDBOT_STATE_DIR: "/c" })?.dir,
      "/m",
    );
    assert.equal(
      resolveStateDir(undefined, { ...t.env, OPENCLAW_STATE_DIR: "/o", MOLTBOT_STATE_DIR: "/m" })?.reason,
      "env OPENCLAW_STATE_DIR",
    );
    assert.equal(resolveStateDir("~/x", { ...t.env, OPENCLAW_STATE_DIR: "/o" })?.dir, path.join(t.home, "x"));
  } finally {
    t.cleanup();
  }
});

test("state dir: none found is undefined", () => {
  const t = makeHome();
  try {
    assert.equal(resolveStateDir(undefined, { HOME: path.join(t.root, "empty") }), undefined);
  } finally {
    t.cleanup();
  }
});

test("agents: on disk, plus agents.list[].agentDir from the JSON5 config, each once; main when none", () =>
  withHome(async (t) => {
    assert.deepEqual(
      (await discoverAgents(t.stateDir, undefined, t.env)).map((a) => a.id),
      ["main"],
    );
    mkdirSync(t.agentDir("main"), { recursive: true });
    mkdirSync(t.agentDir("work"), { recursive: true });
    mkdirSync(path.join(t.stateDir, "agents", "no-agent-subdir"), { recursive: true });
    // An agentDir outside <state>/agents/ is synced only when it exists: it is never made.
    mkdirSync(path.join(t.home, "ops-agent"));
    writeFileSync(
      path.join(t.stateDir, "openclaw.json"),
      `// JSON5, as the gateway writes it
      { agents: { list: [ { id: 'work' }, { id: 'ops', agentDir: '~/ops-agent', }, { id: 'main' } ] } }`,
    );
    const config = await readGatewayConfig(t.stateDir, t.env);
    assert.equal(config?.error, undefined);
    const agents = await discoverAgents(t.stateDir, config, t.env);
    assert.deepEqual(
      agents.map((a) => [a.id, a.dir]),
      [
        ["main", t.agentDir("main")],
        ["work", t.agentDir("work")],
        ["ops", path.join(t.home, "ops-agent")],
      ],
    );
  }));

test("agents: a broken gateway config is reported, not fatal", () =>
  withHome(async (t) => {
    writeFileSync(path.join(t.stateDir, "moltbot.json"), "{ agents: ");
    const config = await readGatewayConfig(t.stateDir, t.env);
    assert.ok(config?.error);
    assert.equal((await discoverAgents(t.stateDir, config, t.env)).length, 1);
  }));

test("agents: the SQLite era's agents.entries.<id>, with or without agentDir, before any database exists", () =>
  withHome(async (t) => {
    // An agentDir outside <state>/agents/ is used only when it exists (agent-paths.test.ts covers the other case).
    const custom = path.join(t.root, "elsewhere", "agent");
    mkdirSync(custom, { recursive: true });
    const work = { name: "work", agentDir: t.agentDir("work") };
    const entries = { main: { workspace: "/w" }, work, far: { agentDir: custom }, "": {} };
    const config = { agents: { ownership: "explicit", entries } };
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(config));
    const agents = await discoverAgents(t.stateDir, await readGatewayConfig(t.stateDir, t.env), t.env);
    assert.deepEqual(
      agents.map((a) => [a.id, a.dir]),
      [
        ["main", t.agentDir("main")],
        ["work", t.agentDir("work")],
        ["far", custom],
      ],
    );
  }));
