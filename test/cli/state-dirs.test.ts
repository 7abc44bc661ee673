/**
 * Several gateways on one host (config `stateDirs`), through the real CLI: each state dir synced and reported on
 * its own, one that is missing reported and never stopping the others, a JSON-era and a SQLite-era gateway side
 * by side in one pass, and two gateways' `main` never confused.
 */
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fingerprint } from "../../src/core/fingerprint.js";
import { installFakeClaude } from "../helpers/daemon.js";
import { gatewayAt, leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../helpers/env.js";
import { holdLock } from "../helpers/processes.js";
import { entriesConfig, readStateCells, restamp, writeAgentDb, writeStateDb } from "../helpers/sqlite-store.js";

const ID = "anthropic:claude-cli";

function writeConfig(t: TestHome, config: unknown): string {
  const file = path.join(t.root, "config.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Gateway a (the home's ~/.openclaw, agents main and work), b (main only), and c, a volume not mounted yet. */
function threeGateways(t: TestHome) {
  const a = t;
  const b = gatewayAt(t, path.join(t.root, "gw-b"));
  const c = gatewayAt(t, path.join(t.root, "gw-c"));
  mkdirSync(a.agentDir("main"), { recursive: true });
  mkdirSync(a.agentDir("work"), { recursive: true });
  mkdirSync(b.agentDir("main"), { recursive: true });
  const file = writeConfig(t, { stateDirs: [a.stateDir, b.stateDir, c.stateDir] });
  return { a, b, c, file };
}

test("config: stateDirs with stateDir, empty, or naming one folder twice is one line and exit 78", async () => {
  const t = makeHome();
  try {
    const other = path.join(t.root, "other");
    mkdirSync(other);
    symlinkSync(other, path.join(t.root, "alias"));
    const cases: Array<[unknown, RegExp]> = [
      [{ stateDir: t.stateDir, stateDirs: [other] }, /stateDir and stateDirs cannot both be set/],
      [{ stateDirs: [] }, /key stateDirs: .*>=1/],
      [
        { stateDirs: [other, path.join(t.root, "alias")] },
        /key stateDirs\.1: .*alias is the same folder as stateDirs\.0/,
      ],
    ];
    for (const [config, expected] of cases) {
      const r = await runCli(["status", "--config", writeConfig(t, config)], t.env);
      assert.equal(r.code, 78, r.stderr);
      assert.match(r.stderr, expected);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  } finally {
    t.cleanup();
  }
});

test("sync: each of stateDirs is synced; a missing one is one line and exit 1, the others are written", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { a, b, c, file } = threeGateways(t);
    const cred = t.writeCredentials();
    const r = await runCli(["sync", "--config", file], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    for (const [g, id] of [
      [a, "main"],
      [a, "work"],
      [b, "main"],
    ] as const)
      assert.equal(g.readStore(id).profiles[ID].token, cred.accessToken, `${g.stateDir} ${id}`);
    const missing = `moltbot-auth-sync: state dir ${c.stateDir} (from config stateDirs) is not an existing folder`;
    assert.ok(r.stderr.includes(missing), r.stderr);
    // Each state dir heads its own agents; the missing one says it was not synced.
    const lines = r.stdout.split("\n");
    const heading = (g: TestHome) => lines.findIndex((l) => l.startsWith(`state dir ${g.stateDir} (config stateDirs)`));
    assert.ok(heading(a) >= 0 && heading(b) > heading(a), r.stdout);
    assert.match(lines[heading(b) + 1]!, /^ {2}main +written/);
    assert.ok(r.stdout.includes(`state dir ${c.stateDir}: not synced`), r.stdout);

    const json = await runCli(["sync", "--json", "--config", file], t.env);
    assert.equal(json.code, 1);
    const out = JSON.parse(json.stdout);
    assert.equal(out.stateDir, undefined, "the gateways replace the single state dir");
    assert.deepEqual(
      out.gateways.map((g: { stateDir: { dir: string }; error?: string }) => [g.stateDir.dir, Boolean(g.error)]),
      [
        [a.stateDir, false],
        [b.stateDir, false],
        [c.stateDir, true],
      ],
    );
    const bAgents = out.gateways[1].agents as Array<{ agent: string; stateDir: string; result: string }>;
    assert.deepEqual(
      bAgents.map((r) => [r.agent, r.stateDir, r.result]),
      [["main", b.stateDir, "unchanged"]],
    );
    assert.equal(out.gateways[0].store.format, "json-v1");

    // The volume is mounted: the next sync serves it too, and all is well.
    mkdirSync(c.agentDir("main"), { recursive: true });
    const again = await runCli(["sync", "--config", file], t.env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(c.readStore("main").profiles[ID].token, cred.accessToken);
    assert.deepEqual(leakedTokens(r.stdout + r.stderr + json.stdout + json.stderr + again.stdout, t.planted), []);
  } finally {
    t.cleanup();
  }
});

test("status: a heading per state dir with its agents, --json per state dir, exit 1 naming a missing one", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { a, b, c, file } = threeGateways(t);
    const cred = t.writeCredentials();
    await runCli(["sync", "--config", file], t.env);
    // b's main is marked: the verdict must say which main.
    const marked = b.readStore("main");
    marked.usageStats = { [ID]: { cooldownUntil: Date.now() + 30 * 60_000, errorCount: 1 } };
    b.writeStore("main", marked);
    const text = await runCli(["status", "--config", file], t.env);
    assert.equal(text.code, 1, text.stdout + text.stderr);
    const lines = text.stdout.split("\n");
    const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
    const fp = fingerprint(cred.accessToken);
    assert.match(lines[at(`gateway ${a.stateDir}: `)]!, /: json-v1 \(/);
    assert.ok(lines[at(`gateway ${a.stateDir}: `) + 1]!.startsWith(`  agent main: ${ID} token ${fp}`), text.stdout);
    assert.ok(at(`gateway ${b.stateDir}: `) > at(`gateway ${a.stateDir}: `));
    assert.match(lines[at(`gateway ${b.stateDir}: `) + 2]!, new RegExp(`^ {4}${ID} cooldown`));
    assert.ok(
      lines.includes(
        `gateway ${c.stateDir}: state dir ${c.stateDir} (from config stateDirs) is not an existing folder; ` +
          "check the path",
      ),
      text.stdout,
    );
    assert.equal(at("state   "), -1, "no single state line");
    // The worst first: the cooldown of b's main, named with its state dir.
    assert.match(text.stderr, new RegExp(`${ID} is in cooldown in main \\(${b.stateDir}\\) for`));

    const json = await runCli(["status", "--json", "--config", file], t.env);
    assert.equal(json.code, 1);
    const out = JSON.parse(json.stdout);
    assert.equal(out.agents, undefined);
    assert.equal(out.stateDir, undefined);
    const gateways = out.gateways as Array<{
      stateDir: { dir: string };
      store?: { format: string };
      agents?: any[];
      error?: string;
    }>;
    assert.deepEqual(
      gateways.map((g) => g.stateDir.dir),
      [a.stateDir, b.stateDir, c.stateDir],
    );
    assert.deepEqual(
      gateways[0]!.agents!.map((x) => [x.agent, x.stateDir]),
      [
        ["main", a.stateDir],
        ["work", a.stateDir],
      ],
    );
    assert.equal(gateways[1]!.agents![0].markings[0].kind, "cooldown");
    assert.match(gateways[2]!.error!, /is not an existing folder/);

    // --state-dir narrows to one gateway, in the single gateway's shape.
    const one = await runCli(["status", "--json", "--config", file, "--state-dir", a.stateDir], t.env);
    assert.equal(one.code, 0, one.stdout + one.stderr);
    const single = JSON.parse(one.stdout);
    assert.equal(single.gateways, undefined);
    assert.equal(single.stateDir.dir, a.stateDir);
    assert.deepEqual(
      single.agents.map((x: { agent: string; stateDir?: string }) => [x.agent, x.stateDir]),
      [
        ["main", undefined],
        ["work", undefined],
      ],
    );
  } finally {
    t.cleanup();
  }
});

test("sync: a JSON-era and a SQLite-era gateway in one pass, each by its own rules", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const json = t;
    const sqlite = gatewayAt(t, path.join(t.root, "gw-sqlite"));
    mkdirSync(json.agentDir("main"), { recursive: true });
    mkdirSync(sqlite.stateDir, { recursive: true });
    writeFileSync(path.join(sqlite.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(sqlite, ["main"])));
    writeStateDb(sqlite, { store: { version: 1, profiles: {} } });
    const file = writeConfig(t, { stateDirs: [json.stateDir, sqlite.stateDir] });
    const cred = t.writeCredentials();
    const setup = randomToken();
    t.planted.push(setup);
    const set = await runCli(["token", "set", "--profile", "anthropic:setup", "--config", file], t.env, {
      input: setup,
    });
    assert.equal(set.code, 0, set.stderr);
    const r = await runCli(["sync", "--json", "--config", file], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.gateways.map((g: { store: { format: string } }) => g.store.format),
      ["json-v1", "sqlite"],
    );
    // JSON era: the login and the setup-token. SQLite era: the setup-token only; the login is the gateway's own.
    const jsonStore = json.readStore("main");
    assert.equal(jsonStore.profiles[ID].token, cred.accessToken);
    assert.equal(jsonStore.profiles["anthropic:setup"].token, setup);
    const shared = readStateCells(sqlite).store?.profiles as Record<string, Record<string, unknown>>;
    assert.equal(shared["anthropic:setup"]!.token, setup);
    assert.equal(shared[ID], undefined);
    assert.ok(!existsSync(sqlite.storePath("main")), "no JSON store in the SQLite gateway");
    const sqliteLogin = out.gateways[1].agents.find((x: { profile: string }) => x.profile === ID);
    assert.equal(sqliteLogin.result, "skipped");
    assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
  } finally {
    t.cleanup();
  }
});

test("doctor: each state dir's checks named by it; the missing one fails with its fix", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { a, c, file } = threeGateways(t);
    t.writeCredentials();
    const r = await runCli(["doctor", "--json", "--config", file], t.env);
    const { checks } = JSON.parse(r.stdout) as {
      checks: Array<{ name: string; status: string; detail: string; fix?: string }>;
    };
    assert.equal(r.code, 1, "a missing state dir fails doctor");
    const named = (name: string) => checks.find((x) => x.name === name);
    assert.equal(named(`agents ${a.stateDir}`)?.detail, "2: main, work");
    assert.equal(named(`gateway store ${a.stateDir}`)?.status, "ok");
    const missing = named(`state dir ${c.stateDir}`);
    assert.equal(missing?.status, "fail");
    assert.match(missing?.fix ?? "", /mount or create .*gw-c.*or remove it from stateDirs/);
    assert.equal(named("state dir"), undefined, "no unnamed state dir check");
  } finally {
    t.cleanup();
  }
});

test("cooldown clear: with several state dirs, --state-dir picks the gateway; without it, one line", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { a, b, file } = threeGateways(t);
    t.writeCredentials();
    await runCli(["sync", "--config", file], t.env);
    for (const g of [a, b]) {
      const store = g.readStore("main");
      store.usageStats = { [ID]: { cooldownUntil: Date.now() + 30 * 60_000, errorCount: 1 } };
      g.writeStore("main", store);
    }
    const ambiguous = await runCli(["cooldown", "clear", "--config", file], t.env);
    assert.notEqual(ambiguous.code, 0);
    assert.match(ambiguous.stderr, /several state dirs are configured \(stateDirs\); pass --state-dir/);
    assert.equal(ambiguous.stderr.trim().split("\n").length, 1);
    const one = await runCli(["cooldown", "clear", "--config", file, "--state-dir", b.stateDir], t.env);
    assert.equal(one.code, 0, one.stdout + one.stderr);
    assert.equal(b.readStore("main").usageStats[ID].cooldownUntil, undefined);
    assert.ok(a.readStore("main").usageStats[ID].cooldownUntil > Date.now(), "the other gateway's main is left alone");
  } finally {
    t.cleanup();
  }
});

test("sync: with stateDirs each gateway reads its own config, not the one OPENCLAW_CONFIG_PATH names", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { a, b } = threeGateways(t);
    const own = path.join(a.stateDir, "openclaw.json");
    writeFileSync(own, JSON.stringify({ agents: { list: [{ id: "ops" }] } }));
    const file = writeConfig(t, { stateDirs: [a.stateDir, b.stateDir] });
    const cred = t.writeCredentials();
    const r = await runCli(["sync", "--config", file], { ...t.env, OPENCLAW_CONFIG_PATH: own });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(a.readStore("ops").profiles[ID].token, cred.accessToken);
    assert.equal(b.readStore("main").profiles[ID].token, cred.accessToken);
    assert.equal(existsSync(b.agentDir("ops")), false, "a's agents are not made in b");
  } finally {
    t.cleanup();
  }
});

test(
  "sync as root: a gateway owned by another user is refused on its own; the root-owned one is written",
  { skip: process.geteuid?.() === 0 ? false : "needs root" },
  async () => {
    const t = makeHome();
    try {
      installFakeClaude(t);
      const { a, b } = threeGateways(t);
      for (const dir of [
        b.stateDir,
        path.join(b.stateDir, "agents"),
        path.dirname(b.agentDir("main")),
        b.agentDir("main"),
      ])
        chownSync(dir, 65534, 65534);
      const file = writeConfig(t, { stateDirs: [a.stateDir, b.stateDir] });
      const cred = t.writeCredentials();
      const r = await runCli(["sync", "--json", "--config", file], t.env);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.equal(a.readStore("main").profiles[ID].token, cred.accessToken);
      assert.equal(existsSync(b.storePath("main")), false, "nothing written in the foreign tree");
      const out = JSON.parse(r.stdout);
      const refused = out.gateways[1].agents[0];
      assert.deepEqual(
        [refused.agent, refused.stateDir, refused.result, refused.code],
        ["main", b.stateDir, "failed", "store.foreign_owner"],
      );
      assert.equal(
        out.gateways[0].agents.every((x: { result: string }) => x.result === "written"),
        true,
      );
    } finally {
      t.cleanup();
    }
  },
);

test("sync: a locked store in one gateway and a refused database in another stop neither the good one", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const good = t;
    const locked = gatewayAt(t, path.join(t.root, "gw-locked"));
    const reshaped = gatewayAt(t, path.join(t.root, "gw-reshaped"));
    mkdirSync(good.agentDir("main"), { recursive: true });
    locked.writeStore("main", { version: 1, profiles: {} });
    const lockedBefore = readFileSync(locked.storePath("main"), "utf8");
    // A SQLite-era gateway whose agent database has a shape this release does not know: refused, left alone.
    mkdirSync(reshaped.stateDir);
    writeFileSync(
      path.join(reshaped.stateDir, "openclaw.json"),
      JSON.stringify(entriesConfig(reshaped, ["main", "work"])),
    );
    writeStateDb(reshaped, { store: { version: 1, profiles: {} } });
    const work = writeAgentDb(reshaped, "work", { userVersion: 24, store: { version: 1, profiles: {} } });
    restamp(work, { renameColumn: { table: "auth_profile_state", from: "state_json", to: "state_v2" } });
    const setup = randomToken();
    t.planted.push(setup);
    const config = { stateDirs: [good.stateDir, locked.stateDir, reshaped.stateDir], lockTimeout: "1s" };
    const file = writeConfig(t, config);
    assert.equal((await runCli(["token", "set", "--config", file], t.env, { input: setup })).code, 0);
    const cred = t.writeCredentials();
    const holder = await holdLock(locked.storePath("main"), 20_000);
    let r;
    try {
      r = await runCli(["sync", "--json", "--config", file], t.env);
    } finally {
      holder.kill();
    }
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(good.readStore("main").profiles[ID].token, cred.accessToken);
    assert.equal(good.readStore("main").profiles["anthropic:manual"].token, setup);
    assert.equal(readFileSync(locked.storePath("main"), "utf8"), lockedBefore, "the locked store is untouched");
    const out = JSON.parse(r.stdout);
    const codes = (i: number) =>
      [...new Set(out.gateways[i].agents.map((x: { result: string; code?: string }) => x.code ?? x.result))].sort();
    assert.deepEqual(codes(0), ["written"]);
    assert.deepEqual(codes(1), ["store.locked"]);
    const refused = out.gateways[2].agents.find((x: { result: string }) => x.result === "failed");
    assert.deepEqual([refused.agent, refused.stateDir], ["work", reshaped.stateDir]);
    assert.match(refused.reason, /\(agent schema 24\): auth_profile_state has no column state_json/);
    // The same gateway's main, in the shared store, still gets the setup-token.
    const shared = readStateCells(reshaped).store?.profiles as Record<string, Record<string, unknown>>;
    assert.equal(shared["anthropic:manual"]!.token, setup);
  } finally {
    t.cleanup();
  }
});
