/**
 * The SQLite era (OpenClaw 2026.6 to 2026.9.6) through the real CLI, on databases in the gateway's shape
 * (test/helpers/sqlite-store.ts). The interop suite repeats the important cases against the real gateway.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { leakedTokens, randomToken, runCli, withHome, type TestHome } from "../helpers/env.js";
import {
  agentDbPath,
  allCellText,
  entriesConfig,
  readAgentCells,
  readStateCells,
  stateDbPath,
  writeAgentDb,
  writeStateDb,
} from "../helpers/sqlite-store.js";
import { snapshotTree } from "../helpers/tree.js";

const token = (t: string, extra: Record<string, unknown> = {}) => ({ type: "token", provider: "anthropic", token: t, ...extra });

/** main reads the shared store; work has its own database with its own anthropic:manual. */
function twoAgents(t: TestHome, options: { sharedManual?: string; workManual?: string } = {}): void {
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main", "work"]), null, 2));
  writeStateDb(t, { store: { version: 1, profiles: { "anthropic:manual": token(options.sharedManual ?? randomToken()) } } });
  writeAgentDb(t, "work", { store: { version: 1, profiles: { "anthropic:manual": token(options.workManual ?? randomToken()) } } });
}

function noForbiddenContent(t: TestHome): void {
  const files = [stateDbPath(t), agentDbPath(t, "work")].filter((f) => existsSync(f));
  const text = allCellText(files);
  assert.doesNotMatch(text, /anthropic:claude-cli/);
  assert.doesNotMatch(text, /\\"refresh\\"|sk-ant-ort01/);
  const json = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? json(path.join(dir, e.name)) : e.name.endsWith(".json") && e.name !== "openclaw.json" ? [e.name] : []));
  assert.deepEqual(json(t.stateDir), [], "no JSON store file in a SQLite-era state dir");
}

test("SQLite era: a setup-token goes into the shared store and into each agent database holding its own copy of that id", () =>
  withHome(async (t) => {
    twoAgents(t);
    const setup = randomToken();
    t.planted.push(setup);
    assert.equal((await runCli(["token", "set", "--profile", "anthropic:manual"], t.env, { input: setup })).code, 0);
    const before = readStateCells(t);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /sqlite store/);
    assert.match(r.stderr, /note: anthropic:claude-cli not synced: not logged in/);
    assert.deepEqual(readStateCells(t).store, { version: 1, profiles: { "anthropic:manual": token(setup) } });
    assert.deepEqual(readStateCells(t).marker, before.marker);
    assert.deepEqual(readAgentCells(t, "work").store, { version: 1, profiles: { "anthropic:manual": token(setup) } });
    assert.equal(readStateCells(t).state, undefined, "no state row before the first marking");
    assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
    const again = await runCli(["sync"], t.env);
    assert.match(again.stdout, /main +unchanged/);
    noForbiddenContent(t);
  }));

test("SQLite era: the Claude login is not copied by default; with a chosen profileId its access token becomes a token profile", () =>
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
    assert.deepEqual(readStateCells(t).store?.profiles, { ...(readStateCells(t).store?.profiles as object), "anthropic:login": token(cred.accessToken, { expires: cred.expiresAt }) });
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
        "anthropic:manual": { blockedUntil: until, blockedReason: "subscription_limit", cooldownUntil: until, cooldownReason: "rate_limit", failureCounts: { rate_limit: 3 }, errorCount: 3, lastUsed: 7 },
      },
    };
    writeStateDb(t, { state: sharedState });
    writeAgentDb(t, "work", { state: { version: 1, usageStats: { "anthropic:manual": { disabledUntil: until, disabledReason: "billing", errorCount: 1 } } } });
    let r = await runCli(["status"], t.env);
    assert.match(r.stdout, /agent main: .*anthropic:manual token sk-ant-oat01-…\w{4} \(static\)\n {2}anthropic:manual cooldown \(rate_limit\) for (1h|59m)/);
    assert.match(r.stdout, /agent work: .*\n {2}anthropic:manual disabled \(billing\) for (1h|59m)/);
    r = await runCli(["cooldown", "clear"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /work +skipped +disabled, not cleared: it was disabled for billing; --force clears it anyway/);
    assert.match(r.stdout, /main +cleared/);
    assert.deepEqual(readStateCells(t).state, { version: 1, order: { anthropic: ["anthropic:manual"] }, usageStats: { "anthropic:manual": { lastUsed: 7, errorCount: 0 } } });
    r = await runCli(["cooldown", "clear", "--profile", "anthropic:manual", "--force"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(readAgentCells(t, "work").state, { version: 1, usageStats: { "anthropic:manual": { errorCount: 0 } } });
    noForbiddenContent(t);
  }));

test("SQLite era: an agent database with user_version 24 is refused in one line and left byte-for-byte unchanged", () =>
  withHome(async (t) => {
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main", "work"])));
    writeStateDb(t, { store: { version: 1, profiles: {} } });
    writeAgentDb(t, "work", { userVersion: 24, store: { version: 1, profiles: { "anthropic:manual": token(randomToken()) } } });
    assert.equal((await runCli(["token", "set", "--profile", "anthropic:manual"], t.env, { input: randomToken() })).code, 0);
    const before = snapshotTree(t.stateDir);
    for (const args of [["sync"], ["cooldown", "clear", "--profile", "anthropic:manual"]]) {
      const r = await runCli(args, t.env);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /work +failed +.*openclaw-agent\.sqlite has schema version 24; this version supports agent schema 23 \(OpenClaw 2026\.9\.6\); nothing written/);
    }
    assert.deepEqual(snapshotTree(t.stateDir).work, before.work);
    for (const key of Object.keys(before).filter((k) => k.startsWith("agents/work"))) assert.equal(snapshotTree(t.stateDir)[key], before[key], key);
    const doctor = JSON.parse((await runCli(["doctor", "--json"], t.env)).stdout);
    const check = doctor.checks.find((c: { name: string }) => c.name === "gateway store");
    assert.equal(check.status, "fail");
    assert.match(check.detail, /gateway 2026\.9\.6 .*schemas state 18, work 24; supported: state schema 18, agent schema 23/);
  }));

test("SQLite era: nothing is written while doctor --fix relocates the shared store, or without a shared store at all", () =>
  withHome(async (t) => {
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
    writeStateDb(t, { marker: null, store: undefined });
    writeAgentDb(t, "main", { store: { version: 1, profiles: {} } });
    const db = (await import("better-sqlite3")).default;
    const handle = new db(stateDbPath(t));
    handle.prepare("INSERT INTO migration_sources VALUES ('k', 'shared-auth-store-state-db', ?, 'copied', 0)").run(agentDbPath(t, "main"));
    handle.close();
    assert.equal((await runCli(["token", "set"], t.env, { input: randomToken() })).code, 0);
    const before = snapshotTree(t.stateDir);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /main +failed +openclaw doctor --fix is relocating the shared auth store \(stage "copied"\)/);
    assert.deepEqual(snapshotTree(t.stateDir), before);
  }));

test("SQLite era: before doctor --fix the shared store is main's database; state/openclaw-quarantine.sqlite is no store", () =>
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
    assert.deepEqual(readAgentCells(t, "main").store, { version: 1, profiles: { "anthropic:manual": token(setup) } });
    assert.deepEqual(readStateCells(t), {}, "nothing in the state database: it is not the shared store yet");
    assert.equal(existsSync(agentDbPath(t, "work")), false, "work's database appears only on the gateway's first write for it");
  }));
test("storeFormat forces a format; doctor and status show what was chosen and why", () =>
  withHome(async (t) => {
    t.writeCredentials();
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify({ meta: { lastTouchedVersion: "2026.4.22" } }));
    let r = await runCli(["sync"], t.env);
    assert.match(r.stdout, /split store \(the gateway config records version 2026\.4\.22\)/);
    const config = path.join(t.root, "c.json");
    writeFileSync(config, JSON.stringify({ storeFormat: "json-v1" }));
    r = await runCli(["--config", config, "status"], t.env);
    assert.match(r.stdout, /^store {3}json-v1, gateway 2026\.4\.22 \(forced by config storeFormat\)$/m);
  }));
