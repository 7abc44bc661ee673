/**
 * The daemon's agent registry, on real state dirs: an agent whose folder is removed is forgotten in the JSON
 * eras, but a SQLite-era agent, whose folder and database appear lazily, is kept.
 */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import pino from "pino";
import { parseConfig } from "../../src/config/config.js";
import { AgentRegistry } from "../../src/daemon/agent-registry.js";
import { ProblemLog } from "../../src/daemon/problem-log.js";
import { makeHome } from "../helpers/env.js";
import { entriesConfig, writeStateDb } from "../helpers/sqlite-store.js";

function registry(t: ReturnType<typeof makeHome>) {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  return { registry: new AgentRegistry(new ProblemLog(logger), path.join(t.root, "journal")), lines };
}

test("agent registry: a SQLite-era agent with no folder of its own stays known on a store event", async () => {
  const t = makeHome();
  try {
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
    writeStateDb(t, { store: { version: 1, profiles: {} }, state: { version: 1, usageStats: {} } });
    const { registry: r, lines } = registry(t);
    const stores = await r.find(parseConfig({}, "test"), t.env);
    assert.equal(stores?.[0]?.adapter.format, "sqlite");
    const main = r.agents.find((a) => a.id === "main")!;
    assert.deepEqual(r.present([main]), [main]);
    assert.deepEqual(
      r.agents.map((a) => a.id),
      ["main"],
    );
    assert.ok(!lines.some((l) => l.includes("agent.removed")), lines.join(""));
  } finally {
    t.cleanup();
  }
});

test("agent registry: a JSON-era agent whose folder is removed is forgotten", async () => {
  const t = makeHome();
  try {
    t.writeStore("main", { version: 1, profiles: {} });
    t.writeStore("work", { version: 1, profiles: {} });
    const { registry: r, lines } = registry(t);
    await r.find(parseConfig({}, "test"), t.env);
    const work = r.agents.find((a) => a.id === "work")!;
    rmSync(path.dirname(work.dir), { recursive: true });
    assert.deepEqual(r.present([work]), []);
    assert.deepEqual(
      r.agents.map((a) => a.id),
      ["main"],
    );
    assert.ok(
      lines.some((l) => l.includes("agent.removed")),
      lines.join(""),
    );
  } finally {
    t.cleanup();
  }
});
