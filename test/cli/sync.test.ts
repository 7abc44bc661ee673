import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { holdLock } from "../helpers/processes.js";
import { leakedTokens, randomToken, runCli, withHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";

test("sync writes a token profile into every agent and keeps everything else", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    const manual = randomToken();
    t.planted.push(manual);
    const original = {
      version: 1,
      profiles: { "anthropic:manual": { type: "token", provider: "anthropic", token: manual } },
      order: { anthropic: ["anthropic:manual", ID] },
      lastGood: { anthropic: "anthropic:manual" },
      usageStats: { "anthropic:manual": { lastUsed: 1, cooldownUntil: 2, errorCount: 3, someFutureField: true } },
      unknownTopLevel: { keep: ["me"] },
    };
    t.writeStore("main", original);
    mkdirSync(t.agentDir("work"), { recursive: true });
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /main\s+written/);
    assert.match(r.stdout, /work\s+written/);
    for (const id of ["main", "work"]) {
      const store = t.readStore(id);
      assert.deepEqual(store.profiles[ID], {
        type: "token",
        provider: "anthropic",
        token: cred.accessToken,
        expires: cred.expiresAt,
      });
      assert.equal(statSync(t.storePath(id)).mode & 0o777, 0o600);
      assert.equal(
        JSON.stringify(store).includes(cred.refreshToken),
        false,
        "the CLI's refresh token never reaches the gateway",
      );
    }
    const main = t.readStore("main");
    delete main.profiles[ID];
    assert.deepEqual(main, original);
    assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
  }));

test("sync is idempotent: the second run writes nothing (same inode, same bytes)", () =>
  withHome(async (t) => {
    t.writeCredentials();
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    const before = statSync(t.storePath("main"));
    const bytes = readFileSync(t.storePath("main"), "utf8");
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^main\s+unchanged$/m, "one line per agent, with no trailing blanks");
    const after = statSync(t.storePath("main"));
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(readFileSync(t.storePath("main"), "utf8"), bytes);
  }));

test("sync --dry-run shows the change and writes nothing; --json prints the same without secrets", () =>
  withHome(async (t) => {
    t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    const before = readFileSync(t.storePath("main"), "utf8");
    const r = await runCli(["sync", "--dry-run"], t.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /main\s+would write/);
    assert.equal(readFileSync(t.storePath("main"), "utf8"), before);
    const j = await runCli(["sync", "--dry-run", "--json"], t.env);
    const out = JSON.parse(j.stdout);
    assert.equal(out.dryRun, true);
    assert.equal(out.agents[0].result, "written");
    assert.match(out.source.fingerprint, /^sk-ant-oat01-…[A-Za-z0-9_-]{4}$/);
    assert.deepEqual(leakedTokens(j.stdout + r.stdout, t.planted), []);
  }));

test("credentialType oauth writes access, refresh and expires", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    const config = path.join(t.root, "c.json");
    writeFileSync(config, JSON.stringify({ credentialType: "oauth", profileId: "anthropic:cli" }));
    const r = await runCli(["--config", config, "sync"], t.env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(t.readStore("main").profiles["anthropic:cli"], {
      type: "oauth",
      provider: "anthropic",
      access: cred.accessToken,
      refresh: cred.refreshToken,
      expires: cred.expiresAt,
    });
  }));

test("a stored credential that expires later is never replaced", () =>
  withHome(async (t) => {
    t.writeCredentials({ expiresAt: Date.now() + 3_600_000 });
    const later = { type: "token", provider: "anthropic", token: randomToken(), expires: Date.now() + 7_200_000 };
    t.planted.push(later.token);
    t.writeStore("main", { version: 1, profiles: { [ID]: later } });
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /main\s+skipped\s+stored sk-ant-oat01-…\S{4} expires later/);
    assert.deepEqual(t.readStore("main").profiles[ID], later);
  }));

test("bad source input: one line, non-zero exit, no store touched", () =>
  withHome(async (t) => {
    t.writeStore("main", { version: 1, profiles: {} });
    const before = readFileSync(t.storePath("main"), "utf8");
    const file = path.join(t.claudeDir, ".credentials.json");
    const token = randomToken();
    const cases: Array<[string | undefined, RegExp]> = [
      [undefined, /not logged in to Claude Code .*run `claude` and \/login, or use a setup-token/],
      ["", /is empty/],
      ['{"claudeAiOauth":{"accessToken":"sk-ant-oat01-abc', /not valid JSON/],
      [JSON.stringify({ claudeAiOauth: { accessToken: token, expiresAt: "tomorrow" } }), /claudeAiOauth\.expiresAt/],
      [
        JSON.stringify({ claudeAiOauth: { accessToken: token, expiresAt: Math.floor(Date.now() / 1000) + 3600 } }),
        /looks like seconds/,
      ],
    ];
    for (const [content, message] of cases) {
      if (content !== undefined) writeFileSync(file, content);
      const r = await runCli(["sync"], t.env);
      assert.equal(r.code, 1, `${content}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.includes(token.slice(13)), false);
      assert.equal(readFileSync(t.storePath("main"), "utf8"), before);
    }
  }));

test("an invalid store is left untouched and reported; other agents still sync", () =>
  withHome(async (t) => {
    t.writeCredentials();
    t.writeStore("main", '{"version":1,"profiles":{');
    mkdirSync(t.agentDir("work"), { recursive: true });
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /main\s+failed\s+.*not valid JSON; left untouched/);
    assert.match(r.stdout, /work\s+written/);
    assert.equal(readFileSync(t.storePath("main"), "utf8"), '{"version":1,"profiles":{');
  }));

test("a store with a BOM and CRLF line ends is read and rewritten cleanly", () =>
  withHome(async (t) => {
    t.writeCredentials();
    t.writeStore("main", '\uFEFF{\r\n  "version": 1,\r\n  "profiles": {},\r\n  "x": 1\r\n}\r\n');
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(t.readStore("main").x, 1);
  }));

test("a symlinked store pointing inside the state dir is followed: the link stays, its target is updated", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    const real = path.join(t.stateDir, "shared", "real-store.json");
    mkdirSync(path.dirname(real));
    writeFileSync(real, JSON.stringify({ version: 1, profiles: {} }), { mode: 0o600 });
    mkdirSync(t.agentDir("main"), { recursive: true });
    symlinkSync(real, t.storePath("main"));
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(readFileSync(real, "utf8")).profiles[ID].token, cred.accessToken);
  }));

test("a store locked by another process: sync waits for it to be released", () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    const holder = await holdLock(t.storePath("main"), 1500);
    const r = await runCli(["sync"], t.env);
    holder.kill();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(t.readStore("main").profiles[ID].token, cred.accessToken);
  }));

test("a store locked past the retry budget fails with store.locked and is untouched", () =>
  withHome(async (t) => {
    t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    const before = readFileSync(t.storePath("main"), "utf8");
    const config = path.join(t.root, "c.json");
    writeFileSync(config, JSON.stringify({ lockTimeout: "1s" }));
    const holder = await holdLock(t.storePath("main"), 20_000);
    try {
      const r = await runCli(["--config", config, "sync", "--json"], t.env);
      assert.equal(r.code, 1);
      const agent = JSON.parse(r.stdout).agents[0];
      assert.equal(agent.code, "store.locked");
      assert.match(agent.reason, /locked by another process/);
      assert.equal(readFileSync(t.storePath("main"), "utf8"), before);
    } finally {
      holder.kill();
    }
  }));

test("an unwritable agent folder fails that agent with a clear reason", () =>
  withHome(async (t) => {
    t.writeCredentials();
    mkdirSync(t.agentDir("main"), { recursive: true });
    const asRoot = process.getuid?.() === 0;
    // Root ignores permissions, so as root the sync runs as nobody over a world-readable tree.
    if (asRoot) chmodSync(t.root, 0o755);
    for (const dir of [
      t.home,
      t.claudeDir,
      t.stateDir,
      path.join(t.stateDir, "agents"),
      path.join(t.stateDir, "agents", "main"),
    ])
      chmodSync(dir, 0o755);
    chmodSync(path.join(t.claudeDir, ".credentials.json"), asRoot ? 0o644 : 0o600);
    chmodSync(t.agentDir("main"), 0o555);
    const r = await runCli(
      ["sync"],
      { ...t.env, XDG_CONFIG_HOME: path.join(t.root, "none") },
      asRoot ? { uid: 65534, gid: 65534 } : {},
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /main\s+failed\s+agent folder .* is not writable/);
  }));
