/**
 * The SQLite era with the real openclaw@2026.9.6: state dirs made by the gateway's own commands, cooldowns
 * recorded by the gateway's own code, and its `models status --json` as the judge of what we wrote.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import Database from "better-sqlite3";
import { leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../test/helpers/env.js";
import {
  agentDbPath,
  allCellText,
  readAgentCells,
  readDatabase,
  readStateCells,
  restamp,
  stateDbPath,
} from "../test/helpers/sqlite-store.js";
import { snapshotTree } from "../test/helpers/tree.js";
import { type DatabaseKind, readSchema, TESTED_SCHEMA } from "../src/stores/sqlite/schema.js";
import { type Gateway, installGateway, modelsStatus, runGateway } from "./gateway.js";
import { gatewayMarkFailure, markScript } from "./gateway-usage.js";
import {
  gatewayStateDir as gatewayStateDirWith,
  pasteToken as pasteTokenWith,
  registerProfiles,
} from "./sqlite-gateway.js";

let gateway: Gateway;
before(() => {
  gateway = installGateway("2026.9.6");
});

const TIMEOUT = { timeout: 600_000 };
interface Status {
  auth: {
    oauth: { profiles: Array<{ profileId: string; type: string; status: string }> };
    providers: Array<{ provider: string; profiles: { labels: string[] } }>;
    unusableProfiles: Array<{ profileId: string; kind: string; reason?: string; until: number }>;
  };
}
type Profiles = Record<string, Record<string, unknown>>;

const openclaw = (t: TestHome, args: string[], input?: string) =>
  runGateway(gateway, args, t.stateDir, t.home, gateway.entry, input);
const status = async (t: TestHome, agent?: string): Promise<Status> => {
  if (!agent) return (await modelsStatus(gateway, t.stateDir, t.home)) as Status;
  return JSON.parse((await openclaw(t, ["models", "status", "--json", "--agent", agent])).stdout) as Status;
};
/** The profiles the gateway would try, in its order (`models status --json`, effectiveProfiles). */
const effective = async (t: TestHome): Promise<string[]> => {
  const providers = ((await status(t)) as unknown as { auth: { oauth: { providers: EffectiveOf[] } } }).auth.oauth;
  const anthropic = providers.providers.find((p) => p.provider === "anthropic");
  return (anthropic?.effectiveProfiles ?? []).map((p) => p.profileId).sort();
};
type EffectiveOf = { provider: string; effectiveProfiles?: Array<{ profileId: string }> };
const profiles = (s: Status) => s.auth.oauth.profiles.map((p) => [p.profileId, p.type, p.status]).sort();
const unusable = (s: Status) => s.auth.unusableProfiles.map((u) => [u.profileId, u.kind, u.reason, u.until]).sort();
const sharedProfiles = (t: TestHome) => readStateCells(t).store?.profiles as Profiles;
const sharedStats = (t: TestHome) => readStateCells(t).state?.usageStats as Profiles;
const pasteToken = (t: TestHome, agent: string, profileId: string, token?: string) =>
  pasteTokenWith(gateway, t, agent, profileId, token);
const tokenSet = (t: TestHome, profileId: string, token: string, ...more: string[]) =>
  runCli(["token", "set", "--profile", profileId, ...more], t.env, { input: token });
/** The expiry `token set` recorded for `profileId`. */
const storedExpires = (t: TestHome, profileId: string): number =>
  JSON.parse(readFileSync(path.join(t.home, ".config", "moltbot-auth-sync", "setup-tokens.json"), "utf8")).tokens[
    profileId
  ].expires;

const gatewayStateDir = (t: TestHome) => gatewayStateDirWith(gateway, t);

/** Neither database ever holds a refresh token or the retired anthropic:claude-cli, and no JSON store appears. */
function assertClean(t: TestHome): void {
  const text = allCellText([stateDbPath(t), agentDbPath(t, "work")].filter((f) => existsSync(f)));
  assert.doesNotMatch(text, /anthropic:claude-cli/);
  assert.doesNotMatch(text, /\\"refresh\\"|sk-ant-ort01/);
  for (const id of ["main", "work"]) assert.equal(existsSync(t.storePath(id)), false, `no JSON store for ${id}`);
}

test("openclaw@2026.9.6: token set: models status lists it for main and work, nothing else", TIMEOUT, async () => {
  const t = makeHome();
  try {
    await gatewayStateDir(t);
    const [mainBefore, workBefore] = [await status(t), await status(t, "work")];
    const setup = randomToken();
    // One already expired, as a setup-token a year old would be: the gateway must not count it usable.
    const old = randomToken();
    t.planted.push(setup, old);
    assert.equal((await tokenSet(t, "anthropic:setup", setup)).code, 0);
    assert.equal((await tokenSet(t, "anthropic:old", old, "--expires-in", "1ms")).code, 0);
    // The gateway's paste-token listed anthropic:manual in auth.profiles: it tries nothing else. Written, but said.
    const unheard = await runCli(["sync"], t.env);
    assert.equal(unheard.code, 1, unheard.stdout + unheard.stderr);
    const config = path.join(t.stateDir, "openclaw.json");
    for (const id of ["anthropic:old", "anthropic:setup"]) {
      const line = `the gateway never tries ${id} in work, main: auth.profiles in ${config} lists only anthropic:manual`;
      assert.ok(unheard.stderr.includes(line), unheard.stderr);
      assert.ok(
        unheard.stderr.includes(`Fix: add "${id}": {"provider": "anthropic", "mode": "token"} to auth.profiles`),
      );
    }
    assert.deepEqual(await effective(t), ["anthropic:manual"], "the gateway's own order leaves them out");
    registerProfiles(t, ["anthropic:setup", "anthropic:old"]);
    const sync = await runCli(["sync"], t.env);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);
    // The expired one is dropped by the gateway itself; the setup-token is now in its effective order.
    assert.deepEqual(await effective(t), ["anthropic:manual", "anthropic:setup"]);
    const [main, work] = [await status(t), await status(t, "work")];
    for (const [after, before] of [
      [main, mainBefore],
      [work, workBefore],
    ] as const) {
      const added = [
        ["anthropic:old", "token", "expired"],
        ["anthropic:setup", "token", "ok"],
      ];
      assert.deepEqual(profiles(after), [...profiles(before), ...added].sort());
      assert.deepEqual(unusable(after), unusable(before));
    }
    const expires = storedExpires(t, "anthropic:setup");
    assert.deepEqual(sharedProfiles(t)["anthropic:setup"], {
      type: "token",
      provider: "anthropic",
      token: setup,
      expires,
    });
    const workOwn = Object.keys(readAgentCells(t, "work").store?.profiles as Profiles);
    assert.deepEqual(workOwn, ["anthropic:manual"], "work's own database keeps only its own profile");
    // A setup-token under an id work holds itself goes into work's database too, which shadows the shared one.
    const manual = randomToken();
    t.planted.push(manual);
    // Both databases hold the gateway's own anthropic:manual: not replaced until the user says so.
    const refused = await tokenSet(t, "anthropic:manual", manual);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /anthropic:manual in (main|work) \(and 1 more\) holds sk-ant-oat01-…\S{4}, which /);
    assert.equal(sharedProfiles(t)["anthropic:manual"]!.token === manual, false);
    assert.equal((await tokenSet(t, "anthropic:manual", manual, "--replace")).code, 0);
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.equal(sharedProfiles(t)["anthropic:manual"]!.token, manual);
    assert.equal((readAgentCells(t, "work").store?.profiles as Profiles)["anthropic:manual"]!.token, manual);
    // The gateway pasted work's own copy without an expiry ("static"); ours carries one, so it is "ok" now.
    const withExpiry = profiles(work).map((p) => (p[0] === "anthropic:manual" ? [p[0], p[1], "ok"] : p));
    assert.deepEqual(profiles(await status(t, "work")), withExpiry);
    assertClean(t);
    assert.deepEqual(leakedTokens(sync.stdout + sync.stderr, t.planted), []);
    // Before an uninstall: every profile of ours out of both databases (anthropic:manual is ours since --replace).
    const removed = await runCli(["remove"], t.env);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    for (const agent of [undefined, "work"]) assert.deepEqual(profiles(await status(t, agent)), [], agent);
  } finally {
    t.cleanup();
  }
});

test("openclaw@2026.9.6: a cooldown the gateway recorded is cleared; a planted one stays", TIMEOUT, async () => {
  const t = makeHome();
  try {
    await gatewayStateDir(t);
    await pasteToken(t, "main", "anthropic:second");
    const three = { count: 3 };
    const recorded = await gatewayMarkFailure(gateway, t.stateDir, t.home, "anthropic:manual", "rate_limit", three);
    assert.equal(recorded?.cooldownReason, "rate_limit");
    // Planted as an external writer would: straight into the shared state row, next to the gateway's entry.
    const plantedUntil = Date.now() + 40 * 60_000;
    const db = new Database(stateDbPath(t));
    const cell = "SELECT value_json FROM config_machine_state WHERE state_key = 'authProfiles.state'";
    const state = JSON.parse((db.prepare(cell).get() as { value_json: string }).value_json);
    state.usageStats["anthropic:second"] = { cooldownUntil: plantedUntil, cooldownReason: "overloaded", errorCount: 1 };
    const update = "UPDATE config_machine_state SET value_json = ? WHERE state_key = 'authProfiles.state'";
    db.prepare(update).run(JSON.stringify(state));
    db.close();
    const before = await status(t);
    const listed = unusable(before).map((u) => u.slice(0, 3));
    const expected = [
      ["anthropic:manual", "cooldown", "rate_limit"],
      ["anthropic:second", "cooldown", "overloaded"],
    ];
    assert.deepEqual(listed, expected);
    const ours = await runCli(["status"], t.env);
    assert.match(ours.stdout, /agent main: .*\n {2}anthropic:manual cooldown \(rate_limit\) for \d+/);
    const clear = await runCli(["cooldown", "clear", "--profile", "anthropic:manual"], t.env);
    assert.equal(clear.code, 0, clear.stdout + clear.stderr);
    const after = await status(t);
    assert.deepEqual(unusable(after), [["anthropic:second", "cooldown", "overloaded", plantedUntil]]);
    assert.deepEqual(profiles(after), profiles(before));
    assertClean(t);
  } finally {
    t.cleanup();
  }
});

test("openclaw@2026.9.6: the gateway writes while we write: nothing lost, no SQLITE_BUSY", TIMEOUT, async () => {
  const t = makeHome();
  try {
    await gatewayStateDir(t);
    await pasteToken(t, "main", "anthropic:second");
    registerProfiles(t, ["anthropic:ours-0", "anthropic:ours-1", "anthropic:ours-2"]);
    await gatewayMarkFailure(gateway, t.stateDir, t.home, "anthropic:manual", "timeout");
    // About 6 ms a write once its Node is up: thousands keep the gateway writing for several seconds. It marks
    // anthropic:manual too, so our cooldown clear rewrites the same state row the gateway is writing.
    const rounds = 1500;
    const span = { start: Date.now(), end: Infinity };
    const env = { PATH: process.env.PATH, HOME: t.home, OPENCLAW_STATE_DIR: t.stateDir, NO_COLOR: "1" };
    const args = [markScript(gateway), "anthropic:second,anthropic:manual", "rate_limit", String(rounds)];
    const gatewayWrites = new Promise<number>((resolve) => {
      // Its stderr gets a line per write: a pipe nobody reads would stop it at 64 KB.
      const child = spawn(gateway.node, args, { env, stdio: "ignore" });
      child.on("exit", (code) => {
        span.end = Date.now();
        resolve(code ?? 1);
      });
    });
    const ourResults: Array<{ code: number; out: string; start: number; end: number }> = [];
    let done = false;
    void gatewayWrites.then(() => (done = true));
    for (let i = 0; (!done || i < 4) && i < 200; i++) {
      const setup = randomToken();
      t.planted.push(setup);
      await tokenSet(t, `anthropic:ours-${i % 3}`, setup);
      const start = Date.now();
      const sync = await runCli(["sync"], t.env);
      const clear = await runCli(["cooldown", "clear", "--profile", "anthropic:manual"], t.env);
      const end = Date.now();
      ourResults.push({ code: sync.code, out: sync.stdout + sync.stderr, start, end });
      ourResults.push({ code: clear.code, out: clear.stdout + clear.stderr, start, end });
    }
    assert.equal(await gatewayWrites, 0, "the gateway's own writer never failed");
    // Its Node takes about a second to start writing; count only our passes that ran wholly after that.
    const overlapping = ourResults.filter((r) => r.start > span.start + 1_500 && r.end < span.end).length / 2;
    assert.ok(overlapping >= 3, `only ${overlapping} of our sync+clear rounds ran while the gateway was writing`);
    for (const r of ourResults) {
      assert.equal(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /SQLITE_BUSY|busy|not free/);
    }
    const failures = sharedStats(t)["anthropic:second"]!.failureCounts as Record<string, number>;
    assert.equal(failures.rate_limit, rounds, "every gateway write landed");
    const shared = sharedProfiles(t);
    for (const id of [0, 1, 2].map((i) => `anthropic:ours-${i}`).concat("anthropic:manual", "anthropic:second")) {
      assert.ok(shared[id], `${id} is in the shared store`);
    }
    const cleared = await runCli(["cooldown", "clear", "--profile", "anthropic:manual"], t.env);
    assert.equal(cleared.code, 0, cleared.stdout + cleared.stderr);
    assert.equal(sharedStats(t)["anthropic:manual"]?.cooldownUntil, undefined);
    assert.ok(
      ourResults.some((r) => /main +cleared/.test(r.out)),
      "our clears rewrote the row the gateway wrote",
    );
    assert.ok(profiles(await status(t)).some(([id]) => id === "anthropic:ours-2"));
    assertClean(t);
    process.stderr.write(`interop: ${overlapping} of our sync+clear rounds ran during ${2 * rounds} gateway writes `);
    process.stderr.write(`(${span.end - span.start} ms)\n`);
  } finally {
    t.cleanup();
  }
});

/** How the gateway's `models status` labels a token profile: its secret's first and last 8 characters. */
const label = (id: string, secret: string) => `${id}=token:${secret.slice(0, 8)}...${secret.slice(-8)}`;
const labels = (s: Status) => s.auth.providers.find((p) => p.provider === "anthropic")?.profiles.labels ?? [];
const schemaOf = (file: string, kind: DatabaseKind) => readDatabase(file, (db) => readSchema(db, kind));

test(
  "openclaw@2026.9.6 restamped newer (agent 24, state 19 and 20, a new table): served by shape",
  TIMEOUT,
  async () => {
    const t = makeHome();
    try {
      await gatewayStateDir(t);
      const [state, work] = [stateDbPath(t), agentDbPath(t, "work")];
      // As the gateway made them: its own versions, and every table and column we use as we expect them.
      const pkg = JSON.parse(readFileSync(path.join(path.dirname(gateway.entry), "package.json"), "utf8"));
      assert.deepEqual(pkg.openclaw.schemaVersions, TESTED_SCHEMA);
      assert.deepEqual(schemaOf(state, "state"), { userVersion: 18, version: 18, differences: [] });
      assert.deepEqual(schemaOf(work, "agent"), { userVersion: 23, version: 23, differences: [] });
      // What 2026.9.8 and later are reported to be: agent 24, state 19, then state 20 in its contentVersion row.
      restamp(work, { userVersion: 24, newTable: "session_archive_v24" });
      restamp(state, { userVersion: 19, newTable: "gateway_v19_things" });
      let secret = "";
      for (const stamp of [{}, { contentVersion: 20 }]) {
        restamp(state, stamp);
        secret = randomToken();
        t.planted.push(secret);
        assert.equal((await tokenSet(t, "anthropic:manual", secret, "--replace")).code, 0);
        const sync = await runCli(["sync"], t.env);
        assert.equal(sync.code, 0, sync.stdout + sync.stderr);
        assert.match(sync.stdout, /\nwork +written/);
        assert.match(sync.stdout, /\nmain +written/);
        assert.equal(sharedProfiles(t)["anthropic:manual"]!.token, secret);
        assert.equal((readAgentCells(t, "work").store?.profiles as Profiles)["anthropic:manual"]!.token, secret);
        assert.deepEqual(leakedTokens(sync.stdout + sync.stderr, t.planted), []);
      }
      const ours = await runCli(["status"], t.env);
      assert.equal(ours.code, 0, ours.stdout + ours.stderr);
      const stateNote =
        "state: state schema 20 (user_version 19, contentVersion 20; tested up to 18, OpenClaw 2026.9.6)";
      const workNote = "work: agent schema 24 (tested up to 23, OpenClaw 2026.9.6)";
      const schemaLine = `schema  ${stateNote}: auth tables as expected; ${workNote}: auth tables as expected`;
      assert.ok(ours.stdout.split("\n").includes(schemaLine), ours.stdout);
      const doctor = JSON.parse((await runCli(["doctor", "--json"], t.env)).stdout);
      const check = doctor.checks.find((c: { name: string }) => c.name === "gateway store");
      assert.equal(check.status, "ok", check.detail);
      // Nothing of theirs changed: the versions, the contentVersion row and their tables are as stamped.
      assert.deepEqual(schemaOf(state, "state"), { userVersion: 19, contentVersion: 20, version: 20, differences: [] });
      assert.equal(schemaOf(work, "agent").userVersion, 24);
      // 2026.9.6 itself refuses those versions; stamped back, it reads our token from both databases.
      restamp(work, { userVersion: 23 });
      restamp(state, { userVersion: 18, contentVersion: null });
      for (const agent of [undefined, "work"])
        assert.ok(labels(await status(t, agent)).includes(label("anthropic:manual", secret)));
      assertClean(t);
    } finally {
      t.cleanup();
    }
  },
);

test(
  "openclaw@2026.9.6: a renamed column refuses that database alone, in one line, byte for byte",
  TIMEOUT,
  async () => {
    const t = makeHome();
    try {
      await gatewayStateDir(t);
      const work = agentDbPath(t, "work");
      restamp(work, { renameColumn: { table: "auth_profile_state", from: "state_json", to: "state_v2" } });
      const secret = randomToken();
      t.planted.push(secret);
      assert.equal((await tokenSet(t, "anthropic:manual", secret, "--replace")).code, 0);
      const inWork = ([file]: [string, string]) => file.startsWith(path.join("agents", "work"));
      const workFiles = () => Object.fromEntries(Object.entries(snapshotTree(t.stateDir)).filter(inWork));
      const before = workFiles();
      const refusal =
        `${work} (agent schema 23): auth_profile_state has no column state_json ` +
        "(it has state_key TEXT, state_v2 TEXT, updated_at INTEGER); refused, nothing written";
      for (const args of [["sync"], ["cooldown", "clear", "--profile", "anthropic:manual"]]) {
        const r = await runCli(args, t.env);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        const lines = r.stdout.split("\n").filter((l) => l.startsWith("work"));
        assert.equal(lines.length, 1, r.stdout);
        assert.match(lines[0]!, /^work +failed +/);
        assert.equal(lines[0]!.replace(/^work +failed +/, ""), refusal);
        assert.match(r.stdout, /(^|\n)main +(written|nothing to clear)/, r.stdout);
        assert.deepEqual(workFiles(), before);
      }
      // main, in the shared store, is still served: the gateway lists our token there.
      assert.ok(labels(await status(t)).includes(label("anthropic:manual", secret)));
      const doctor = JSON.parse((await runCli(["doctor", "--json"], t.env)).stdout);
      const check = doctor.checks.find((c: { name: string }) => c.name === "gateway store");
      assert.equal(check.status, "fail");
      assert.ok(check.detail.endsWith(`; work: ${refusal}`), check.detail);
      assert.deepEqual(workFiles(), before);
      assertClean(t);
    } finally {
      t.cleanup();
    }
  },
);

test("openclaw@2026.9.6 after doctor --fix moved a JSON store to SQLite: our token is read", TIMEOUT, async () => {
  const t = makeHome();
  try {
    t.writeCredentials();
    const manual = { type: "token", provider: "anthropic", token: randomToken() };
    t.writeStore("main", { version: 1, profiles: { "anthropic:manual": manual } });
    await openclaw(t, ["doctor", "--fix", "--non-interactive"]);
    assert.equal(existsSync(t.storePath("main")), false, "doctor --fix archived the JSON store");
    assert.equal((await tokenSet(t, "anthropic:setup", randomToken())).code, 0);
    const sync = await runCli(["sync"], t.env);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);
    assert.match(sync.stdout, /main +anthropic:claude-cli +skipped +not copied: this gateway uses the Claude CLI/);
    const seen = [
      ["anthropic:manual", "token", "static"],
      // token set records an expiry, so the gateway sees one: "ok", not "static".
      ["anthropic:setup", "token", "ok"],
    ];
    assert.deepEqual(profiles(await status(t)), seen);
    assertClean(t);
  } finally {
    t.cleanup();
  }
});
