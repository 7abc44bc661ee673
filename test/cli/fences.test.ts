/**
 * Refresh fences through the real CLI, on SQLite databases in the gateway's shape: a pending fence left alone, a
 * failed one recovered on its own when provably the login's account, by `recover` otherwise, and named by `status`.
 * The interop suite repeats this with fences made by the real gateway.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { leakedTokens, randomToken, runCli, withHome, type TestHome } from "../helpers/env.js";
import { fenced, oauthProfile } from "../helpers/fence.js";
import { entriesConfig, readStateCells, writeAgentDb, writeStateDb } from "../helpers/sqlite-store.js";
import { snapshotTree } from "../helpers/tree.js";

const ID = "anthropic:default";
type Json = Record<string, unknown>;
const manual = () => ({ type: "token", provider: "anthropic", token: randomToken() });
const disabled = () => ({
  disabledUntil: Date.now() + 600_000,
  disabledReason: "auth_permanent",
  errorCount: 1,
  failureCounts: { auth_permanent: 1 },
  lastFailureAt: Date.now() - 1_000,
  lastUsed: 1_000,
});

/** main reads the shared store holding `profile` under anthropic:default; work has its own database. */
function gatewayWith(t: TestHome, profile: Json, stats?: Json): void {
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main", "work"])));
  const store = { version: 1, profiles: { [ID]: profile, "anthropic:manual": manual() } };
  writeStateDb(t, { store, ...(stats ? { state: { version: 1, usageStats: { [ID]: stats } } } : {}) });
  writeAgentDb(t, "work", { store: { version: 1, profiles: { "anthropic:manual": manual() } } });
}

const sharedProfile = (t: TestHome) => (readStateCells(t).store?.profiles as Record<string, Json>)[ID];
const sharedStats = (t: TestHome) => (readStateCells(t).state?.usageStats as Record<string, Json> | undefined)?.[ID];
const recoveryFile = (t: TestHome) => path.join(t.home, ".local", "state", "moltbot-auth-sync", "recovery.json");
const output = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;

/**
 * A recovered profile as `status` shows it, then kept in step by the next `sync` after claude rotates;
 * returns everything both printed.
 */
async function keptFresh(t: TestHome, cred: { expiresAt: number }): Promise<string> {
  const status = await runCli(["status"], t.env);
  assert.notEqual(status.code, 1, output(status));
  assert.match(
    status.stdout,
    /anthropic:default token sk-ant-oat01-…\S{4} expires in .* \(matches source\) \(recovered/,
  );
  const next = t.writeCredentials({ expiresAt: cred.expiresAt + 3_600_000 });
  const sync = await runCli(["sync"], t.env);
  assert.equal(sync.code, 0, output(sync));
  assert.equal(sharedProfile(t)!.token, next.accessToken);
  return output(status) + output(sync);
}

test("sync recovers a failed fence of the login's own refresh token, then keeps it fresh", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    const profile = fenced(ID, oauthProfile(cred.refreshToken, { email: "me@example.com" }), "failed");
    gatewayWith(t, profile, disabled());
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, output(r));
    assert.match(
      r.stdout,
      /(main|work) +anthropic:default +written +recovered from a failed refresh: now the Claude login's token \(the same account, proven by its refresh token\)/,
    );
    // Both agents read the one shared store: whichever the pass reaches first recovers it, the other finds it done.
    assert.match(r.stdout, /(main|work) +anthropic:default +unchanged/);
    assert.deepEqual(sharedProfile(t), {
      type: "token",
      provider: "anthropic",
      email: "me@example.com",
      token: cred.accessToken,
      expires: cred.expiresAt,
    });
    const stats = sharedStats(t)!;
    assert.equal(stats.disabledUntil, undefined);
    assert.equal(stats.failureCounts, undefined);
    assert.equal(stats.errorCount, 0);
    assert.equal(stats.lastUsed, 1_000);
    const book = readFileSync(recoveryFile(t), "utf8");
    assert.deepEqual(
      JSON.parse(book).recovered.map((e: Json) => [e.stateDir, e.profileId]),
      [[t.stateDir, ID]],
    );
    const after = await keptFresh(t, cred);
    assert.deepEqual(leakedTokens(output(r) + after + book, t.planted), []);
  }));

test("a pending fence is left byte for byte, with its usage stats, by sync and cooldown clear", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    gatewayWith(t, fenced(ID, oauthProfile(cred.refreshToken), "pending"), {
      cooldownUntil: Date.now() + 60_000,
      errorCount: 1,
    });
    const before = snapshotTree(t.stateDir);
    const sync = await runCli(["sync"], t.env);
    assert.equal(sync.code, 0, output(sync));
    const clear = await runCli(["cooldown", "clear", "--profile", ID], t.env);
    assert.match(clear.stdout, /main +skipped +the gateway is refreshing it \(a pending refresh fence\): left alone/);
    assert.deepEqual(snapshotTree(t.stateDir), before);
    const status = await runCli(["status"], t.env);
    assert.match(status.stdout, /anthropic:default oauth being refreshed by the gateway \(a pending refresh fence\)/);
    assert.doesNotMatch(status.stdout, /20\d\d\dd|expires .*ago/);
    assert.deepEqual(leakedTokens(output(sync) + output(clear) + output(status), t.planted), []);
  }));

test("an unproven failed fence: status exits 1 naming it and the command; recover switches it", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    // Claude Code's record of who is signed in; the profile names someone else.
    writeFileSync(
      path.join(t.home, ".claude.json"),
      JSON.stringify({ oauthAccount: { emailAddress: "me@example.com" } }),
    );
    gatewayWith(
      t,
      fenced(ID, oauthProfile(randomToken("ort"), { email: "someone@example.com" }), "failed"),
      disabled(),
    );
    const before = sharedProfile(t);
    const sync = await runCli(["sync"], t.env);
    assert.equal(sync.code, 0, output(sync));
    assert.deepEqual(sharedProfile(t), before, "not switched to another account on its own");
    const fix = "`moltbot-auth-sync recover --profile anthropic:default` switches it to me@example.com";
    assert.match(sync.stderr, /anthropic:default in (main, work|work, main): its refresh failed for good/);
    assert.ok(sync.stderr.includes(fix), sync.stderr);
    const status = await runCli(["status"], t.env);
    assert.equal(status.code, 1, output(status));
    assert.match(
      status.stdout,
      /anthropic:default oauth refresh failed \(a failed refresh fence: the gateway never uses it again\)/,
    );
    assert.doesNotMatch(status.stdout, /anthropic:default oauth …|expires \d+d/);
    assert.ok(status.stderr.includes("nothing proves it is the Claude login's account"), status.stderr);
    assert.match(
      status.stderr,
      /`moltbot-auth-sync recover --agent (main|work) --profile anthropic:default` switches it to me@example\.com/,
    );
    const dry = await runCli(["recover", "--dry-run"], t.env);
    assert.equal(dry.code, 0, output(dry));
    assert.match(dry.stdout, /main +anthropic:default +would recover/);
    assert.deepEqual(sharedProfile(t), before);
    const recover = await runCli(["recover", "--agent", "main", "--profile", ID], t.env);
    assert.equal(recover.code, 0, output(recover));
    assert.match(recover.stdout, /account me@example\.com/);
    assert.match(
      recover.stdout,
      /main +anthropic:default +written +now the Claude login's token, kept fresh \(by `recover`\)/,
    );
    assert.equal(sharedProfile(t)!.token, cred.accessToken);
    assert.equal(sharedStats(t)!.disabledUntil, undefined);
    const after = await keptFresh(t, cred);
    const again = await runCli(["recover", "--profile", ID], t.env);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /anthropic:default is no failed refresh and holds no refresh token of the Claude login \(looked in (main, work|work, main)\): nothing to recover/,
    );
    const all = [sync, status, dry, recover, again].map(output).join("") + after;
    assert.deepEqual(leakedTokens(all, t.planted), []);
  }));

test("the account the gateway stored beside the profile proves it; autoRecover false leaves it to recover", () =>
  withHome(async (t) => {
    t.writeCredentials({ extra: {} });
    writeFileSync(
      path.join(t.home, ".claude.json"),
      JSON.stringify({ oauthAccount: { emailAddress: "Me@Example.com" } }),
    );
    gatewayWith(t, fenced(ID, oauthProfile(randomToken("ort"), { email: "me@example.com" }), "failed"));
    const config = path.join(t.home, ".config", "moltbot-auth-sync", "config.json");
    mkdirSync(path.dirname(config), { recursive: true });
    writeFileSync(config, JSON.stringify({ autoRecover: false }));
    const off = await runCli(["sync"], t.env);
    assert.equal(off.code, 0, output(off));
    assert.equal(sharedProfile(t)!.type, "oauth");
    assert.ok(
      off.stderr.includes("it is the Claude login's account (its account), but autoRecover is off"),
      off.stderr,
    );
    writeFileSync(config, "{}");
    const on = await runCli(["sync"], t.env);
    assert.match(on.stdout, /anthropic:default +written +recovered .*\(the same account, proven by its account\)/);
    assert.equal(sharedProfile(t)!.type, "token");
  }));

test("a digest noted while the profile held the login's refresh token proves its failed fence after claude rotated", () =>
  withHome(async (t) => {
    const first = t.writeCredentials();
    const live = oauthProfile(first.refreshToken);
    gatewayWith(t, live);
    const doctor = await runCli(["doctor"], t.env);
    assert.match(
      doctor.stdout,
      /WARN +refresh fences +(work, main|main, work): anthropic:default is an oauth profile holding the Claude login's own refresh token/,
    );
    // The daemon's pass sees the shared refresh token and notes the gateway's digest of it.
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    const book = JSON.parse(readFileSync(recoveryFile(t), "utf8"));
    assert.equal(book.refreshDigests.length, 1);
    // claude refreshes first; the gateway's refresh of the spent token fails and leaves a failed fence.
    t.writeCredentials();
    const db = readStateCells(t).store!;
    (db.profiles as Record<string, Json>)[ID] = fenced(ID, live, "failed");
    writeStateDb(t, { store: db });
    const sync = await runCli(["sync"], t.env);
    assert.match(sync.stdout, /anthropic:default +written +recovered .*proven by its refresh token/);
    assert.deepEqual(leakedTokens(output(doctor) + output(sync) + JSON.stringify(book), t.planted), []);
  }));

test("recover refuses an expired login and names a profile it cannot recover", () =>
  withHome(async (t) => {
    t.writeCredentials({ expiresAt: Date.now() - 60_000 });
    gatewayWith(t, fenced(ID, oauthProfile(), "failed"));
    const r = await runCli(["recover"], t.env);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /the Claude login's token sk-ant-oat01-…\S{4} expired .* ago: run `moltbot-auth-sync sync` first/,
    );
    t.writeCredentials();
    const none = await runCli(["recover", "--profile", "anthropic:nope"], t.env);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /no agent holds anthropic:nope \(looked in (main, work|work, main)\): nothing to recover/,
    );
    const agent = await runCli(["recover", "--agent", "ghost"], t.env);
    assert.match(agent.stderr, /no agent "ghost" \(found: (main, work|work, main)\)/);
  }));

test("recover leaves a live profile holding the login's refresh token alone unless it is named", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    gatewayWith(t, oauthProfile(cred.refreshToken, { email: "me@example.com" }));
    const all = await runCli(["recover"], t.env);
    assert.equal(all.code, 0, output(all));
    assert.match(all.stdout, /no profile whose refresh failed \(looked in .*\): nothing to recover/);
    assert.equal(sharedProfile(t)!.type, "oauth");
    const named = await runCli(["recover", "--profile", ID], t.env);
    assert.equal(named.code, 0, output(named));
    assert.deepEqual(sharedProfile(t), {
      type: "token",
      provider: "anthropic",
      email: "me@example.com",
      token: cred.accessToken,
      expires: cred.expiresAt,
    });
    const doctor = await runCli(["doctor"], t.env);
    assert.match(doctor.stdout, /ok +refresh fences +no failed refresh, and no profile holding the Claude login's/);
    assert.deepEqual(leakedTokens(output(all) + output(named) + output(doctor), t.planted), []);
  }));
