/**
 * The SQLite era (OpenClaw 2026.6 to 2026.9.6) through the real CLI, on databases in the gateway's shape
 * (test/helpers/sqlite-store.ts). The interop suite repeats the important cases against the real gateway.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { leakedTokens, randomToken, runCli, withHome, type TestHome } from "../helpers/env.js";
import {
  agentDbPath,
  allCellText,
  entriesConfig,
  readAgentCells,
  readStateCells,
  restamp,
  stateDbPath,
  writeAgentDb,
  writeStateDb,
} from "../helpers/sqlite-store.js";
import { snapshotTree } from "../helpers/tree.js";

const token = (t: string, extra = {}) => ({ type: "token", provider: "anthropic", token: t, ...extra });
/** The profile `token set` stored under `id` gives: with its recorded expiry. */
const storedToken = (t: TestHome, secret: string, id = "anthropic:manual") => {
  const file = path.join(t.home, ".config", "moltbot-auth-sync", "setup-tokens.json");
  return token(secret, { expires: JSON.parse(readFileSync(file, "utf8")).tokens[id].expires });
};

/** main reads the shared store; work has its own database with its own anthropic:manual. */
function twoAgents(t: TestHome, options: { sharedManual?: string; workManual?: string } = {}): void {
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main", "work"]), null, 2));
  const manual = (secret = randomToken()) => ({ version: 1, profiles: { "anthropic:manual": token(secret) } });
  writeStateDb(t, { store: manual(options.sharedManual) });
  writeAgentDb(t, "work", { store: manual(options.workManual) });
}

function noForbiddenContent(t: TestHome): void {
  const files = [stateDbPath(t), agentDbPath(t, "work")].filter((f) => existsSync(f));
  const text = allCellText(files);
  assert.doesNotMatch(text, /anthropic:claude-cli/);
  assert.doesNotMatch(text, /\\"refresh\\"|sk-ant-ort01/);
  const isStore = (name: string) => name.endsWith(".json") && name !== "openclaw.json";
  const json = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? json(path.join(dir, e.name)) : isStore(e.name) ? [e.name] : [],
    );
  assert.deepEqual(json(t.stateDir), [], "no JSON store file in a SQLite-era state dir");
}

test("SQLite era: a setup-token goes to the shared store and each agent database holding its own copy of that id", () =>
  withHome(async (t) => {
    twoAgents(t);
    const setup = randomToken();
    t.planted.push(setup);
    assert.equal(
      (await runCli(["token", "set", "--profile", "anthropic:manual", "--replace"], t.env, { input: setup })).code,
      0,
    );
    const before = readStateCells(t);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /sqlite store/);
    assert.match(r.stderr, /note: anthropic:claude-cli not synced: not logged in/);
    const profiles = { "anthropic:manual": storedToken(t, setup) };
    assert.deepEqual(readStateCells(t).store, { version: 1, profiles });
    assert.deepEqual(readStateCells(t).marker, before.marker);
    assert.deepEqual(readAgentCells(t, "work").store, { version: 1, profiles });
    assert.equal(readStateCells(t).state, undefined, "no state row before the first marking");
    assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
    const again = await runCli(["sync"], t.env);
    assert.match(again.stdout, /main +unchanged/);
    noForbiddenContent(t);
  }));

test("SQLite era: the Claude login is not copied by default; with a chosen profileId its access token is copied", () =>
  withHome(async (t) => {
    twoAgents(t);
    const cred = t.writeCredentials();
    const before = snapshotTree(t.stateDir);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /main +skipped +not copied: this gateway uses the Claude CLI login natively/);
    assert.deepEqual(snapshotTree(t.stateDir), before);
    const config = path.join(t.root, "c.json");
    writeFileSync(config, JSON.stringify({ profileId: "anthropic:login", credentialType: "token" }));
    const opted = await runCli(["--config", config, "sync"], t.env);
    assert.equal(opted.code, 0, opted.stdout + opted.stderr);
    const shared = readStateCells(t).store?.profiles as Record<string, unknown>;
    assert.deepEqual(shared["anthropic:login"], token(cred.accessToken, { expires: cred.expiresAt }));
    assert.deepEqual(Object.keys(shared).sort(), ["anthropic:login", "anthropic:manual"]);
    writeFileSync(config, JSON.stringify({ profileId: "anthropic:login", credentialType: "oauth" }));
    const oauth = await runCli(["--config", config, "sync"], t.env);
    assert.match(oauth.stdout, /skipped +not copied: this gateway refreshes stored oauth profiles itself/);
    noForbiddenContent(t);
    assert.deepEqual(leakedTokens(r.stdout + r.stderr + opted.stdout + opted.stderr + oauth.stdout, t.planted), []);
  }));

test("SQLite era: cooldown clear clears blocks and cooldowns in the owner's state row; a disable needs --force", () =>
  withHome(async (t) => {
    twoAgents(t);
    const until = Date.now() + 3_600_000;
    const sharedState = {
      version: 1,
      order: { anthropic: ["anthropic:manual"] },
      usageStats: {
        "anthropic:manual": {
          blockedUntil: until,
          blockedReason: "subscription_limit",
          cooldownUntil: until,
          cooldownReason: "rate_limit",
          failureCounts: { rate_limit: 3 },
          errorCount: 3,
          lastUsed: 7,
        },
      },
    };
    writeStateDb(t, { state: sharedState });
    const disabled = { disabledUntil: until, disabledReason: "billing", errorCount: 1 };
    writeAgentDb(t, "work", { state: { version: 1, usageStats: { "anthropic:manual": disabled } } });
    let r = await runCli(["status"], t.env);
    const listed = /agent main: .*anthropic:manual token \S+ \(static\)\n {2}anthropic:manual cooldown \(rate_limit/;
    assert.match(r.stdout, listed);
    assert.match(r.stdout, /agent work: .*\n {2}anthropic:manual disabled \(billing\) for (1h|59m)/);
    r = await runCli(["cooldown", "clear"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /work +skipped +disabled, not cleared: it was disabled for billing; --force clears it/);
    assert.match(r.stdout, /main +cleared/);
    const order = { anthropic: ["anthropic:manual"] };
    const usageStats = { "anthropic:manual": { lastUsed: 7, errorCount: 0 } };
    assert.deepEqual(readStateCells(t).state, { version: 1, order, usageStats });
    r = await runCli(["cooldown", "clear", "--profile", "anthropic:manual", "--force"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const workStats = { "anthropic:manual": { errorCount: 0 } };
    assert.deepEqual(readAgentCells(t, "work").state, { version: 1, usageStats: workStats });
    noForbiddenContent(t);
  }));

test("SQLite era: databases newer than tested are served by their shape; status and doctor say so, as information", () =>
  withHome(async (t) => {
    twoAgents(t);
    restamp(agentDbPath(t, "work"), { userVersion: 24, newTable: "session_archive" });
    restamp(stateDbPath(t), { userVersion: 19, contentVersion: 20 });
    const setup = randomToken();
    t.planted.push(setup);
    assert.equal(
      (await runCli(["token", "set", "--profile", "anthropic:manual", "--replace"], t.env, { input: setup })).code,
      0,
    );
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /main +written/);
    assert.match(r.stdout, /work +written/);
    const profiles = { "anthropic:manual": storedToken(t, setup) };
    assert.deepEqual(readStateCells(t).store, { version: 1, profiles });
    assert.deepEqual(readAgentCells(t, "work").store, { version: 1, profiles });
    const state =
      "state: state schema 20 \\(user_version 19, contentVersion 20; tested up to 18, OpenClaw 2026\\.9\\.6\\)";
    const work = "work: agent schema 24 \\(tested up to 23, OpenClaw 2026\\.9\\.6\\)";
    const schemas = new RegExp(`${state}: auth tables as expected; ${work}: auth tables as expected`);
    const status = await runCli(["status"], t.env);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, new RegExp(`\\nschema  ${schemas.source}\\n`));
    const json = JSON.parse((await runCli(["status", "--json"], t.env)).stdout);
    const found = json.schemas.map((f: Record<string, unknown>) => [f.name, f.version, f.userVersion, f.newer]);
    assert.deepEqual(found, [
      ["state", 20, 19, true],
      ["work", 24, 24, true],
    ]);
    const doctor = JSON.parse((await runCli(["doctor", "--json"], t.env)).stdout);
    const check = doctor.checks.find((c: { name: string }) => c.name === "gateway store");
    assert.equal(check.status, "ok");
    assert.match(check.detail, schemas);
    const versions = (file: string) => new Database(file, { readonly: true }).pragma("user_version", { simple: true });
    assert.deepEqual([versions(stateDbPath(t)), versions(agentDbPath(t, "work"))], [19, 24], "no version changed");
    assert.deepEqual(leakedTokens(r.stdout + r.stderr + status.stdout, t.planted), []);
    noForbiddenContent(t);
  }));

test("SQLite era: a renamed column refuses that database alone, in one line, and leaves it byte for byte", () =>
  withHome(async (t) => {
    twoAgents(t);
    const rename = { table: "auth_profile_store", from: "store_json", to: "credentials_json" };
    restamp(agentDbPath(t, "work"), { userVersion: 24, renameColumn: rename });
    const setup = randomToken();
    t.planted.push(setup);
    const set = await runCli(["token", "set", "--profile", "anthropic:manual", "--replace"], t.env, { input: setup });
    assert.equal(set.code, 0);
    const inWork = (key: string) => key.startsWith(path.join("agents", "work"));
    const workFiles = () => Object.entries(snapshotTree(t.stateDir)).filter(([key]) => inWork(key));
    const before = workFiles();
    const refusal =
      "\\S+/agents/work/agent/openclaw-agent\\.sqlite \\(agent schema 24\\): auth_profile_store has no column " +
      "store_json \\(it has store_key TEXT, credentials_json TEXT, updated_at INTEGER\\); refused, nothing written";
    for (const args of [["sync"], ["cooldown", "clear", "--profile", "anthropic:manual"]]) {
      const r = await runCli(args, t.env);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const lines = r.stdout.split("\n").filter((l) => l.startsWith("work"));
      assert.equal(lines.length, 1, r.stdout);
      assert.match(lines[0]!, new RegExp(`^work +failed +${refusal}$`));
      assert.match(r.stdout, /(^|\n)main +(written|unchanged|nothing to clear)/, `main is still served:\n${r.stdout}`);
      assert.deepEqual(workFiles(), before);
    }
    const shared = readStateCells(t).store?.profiles as Record<string, unknown>;
    assert.deepEqual(shared["anthropic:manual"], storedToken(t, setup));
    const status = await runCli(["status"], t.env);
    assert.equal(status.code, 1, status.stdout);
    assert.match(status.stdout, new RegExp(`\\nschema  state: .*; work: ${refusal}\\n`));
    assert.match(status.stdout, new RegExp(`\\nagent work: ${refusal}\\n`));
    const doctor = JSON.parse((await runCli(["doctor", "--json"], t.env)).stdout);
    const check = doctor.checks.find((c: { name: string }) => c.name === "gateway store");
    assert.equal(check.status, "fail");
    assert.match(check.detail, new RegExp(`state: state schema 18 .*; work: ${refusal}$`));
    assert.deepEqual(workFiles(), before);
  }));

test("SQLite era: nothing is written while openclaw doctor --fix relocates the shared store", () =>
  withHome(async (t) => {
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
    writeStateDb(t, { marker: null, store: undefined });
    writeAgentDb(t, "main", { store: { version: 1, profiles: {} } });
    const db = (await import("better-sqlite3")).default;
    const handle = new db(stateDbPath(t));
    const pending = "INSERT INTO migration_sources VALUES ('k', 'shared-auth-store-state-db', ?, 'copied', 0)";
    handle.prepare(pending).run(agentDbPath(t, "main"));
    handle.close();
    assert.equal((await runCli(["token", "set"], t.env, { input: randomToken() })).code, 0);
    const before = snapshotTree(t.stateDir);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const relocating = /main +failed +openclaw doctor --fix is relocating the shared auth store \(stage "copied"\)/;
    assert.match(r.stdout, relocating);
    assert.deepEqual(snapshotTree(t.stateDir), before);
  }));

test("SQLite era: before doctor --fix the shared store is main's database; the quarantine database is no store", () =>
  withHome(async (t) => {
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main", "work"])));
    writeStateDb(t, { marker: null });
    writeAgentDb(t, "main", { store: { version: 1, profiles: {} } });
    mkdirSync(path.join(t.stateDir, "state"), { recursive: true });
    writeFileSync(path.join(t.stateDir, "state", "openclaw-quarantine.sqlite"), "not ours");
    const setup = randomToken();
    assert.equal((await runCli(["token", "set"], t.env, { input: setup })).code, 0);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const profiles = { "anthropic:manual": storedToken(t, setup) };
    assert.deepEqual(readAgentCells(t, "main").store, { version: 1, profiles });
    assert.deepEqual(readStateCells(t), {}, "nothing in the state database: it is not the shared store yet");
    assert.equal(existsSync(agentDbPath(t, "work")), false, "work's database appears on the gateway's first write");
  }));
test("storeFormat forces a format; doctor and status show what was chosen and why", () =>
  withHome(async (t) => {
    t.writeCredentials();
    writeFileSync(
      path.join(t.stateDir, "openclaw.json"),
      JSON.stringify({ meta: { lastTouchedVersion: "2026.4.22" } }),
    );
    let r = await runCli(["sync"], t.env);
    assert.match(r.stdout, /split store \(the gateway config records version 2026\.4\.22\)/);
    const config = path.join(t.root, "c.json");
    writeFileSync(config, JSON.stringify({ storeFormat: "json-v1" }));
    r = await runCli(["--config", config, "status"], t.env);
    assert.match(r.stdout, /^store {3}json-v1, gateway 2026\.4\.22 \(forced by config storeFormat\)$/m);
  }));
