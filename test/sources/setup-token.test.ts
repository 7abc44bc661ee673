import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { Readable } from "node:stream";
import { STDIN_LIMIT_BYTES, readLimited } from "../../src/cli/token.js";
import { validateSetupToken } from "../../src/sources/setup-token.js";
import { BIN, leakedTokens, randomToken, runCli, withHome } from "../helpers/env.js";

test("validateSetupToken: the gateway's rules and messages, never echoing the token", () => {
  const good = randomToken();
  assert.equal(validateSetupToken(`  ${good}\n`), good);
  const cases: Array<[string, RegExp]> = [
    [randomToken("ort"), /^Expected token starting with sk-ant-oat01-$/],
    ["sk-ant-api03-" + "x".repeat(90), /^Expected token starting with sk-ant-oat01-$/],
    [good.slice(0, 60), /^Token looks too short; paste the full setup-token$/],
    [`${good.slice(0, 50)} ${good.slice(50)}`, /whitespace/],
    ...["\u0000", "\u001b[2J", "\u0007", "é", "+", "/", "="].map((odd): [string, RegExp] => [
      `${good.slice(0, 50)}${odd}${good.slice(50)}`,
      /^Token holds a character a setup-token cannot/,
    ]),
  ];
  for (const [token, message] of cases) {
    assert.throws(
      () => validateSetupToken(token),
      (err: Error) => message.test(err.message) && !err.message.includes(token.slice(13, 30)),
    );
  }
});

test("token set reads stdin, falls back to a 0600 file here and says why; status shows fingerprint and age; clear removes it", () =>
  withHome(async (t) => {
    const token = randomToken();
    t.planted.push(token);
    const set = await runCli(["token", "set"], t.env, { input: `${token}\n` });
    assert.equal(set.code, 0, set.stderr);
    const file = path.join(t.home, ".config", "moltbot-auth-sync", "setup-tokens.json");
    assert.match(
      set.stdout,
      new RegExp(
        `stored anthropic:manual sk-ant-oat01-…${token.slice(-4)} in ${file.replace(/[.]/g, "\\.")} \\(mode 0600, readable only by you; no D-Bus session bus, so no OS keyring\\)$`,
        "m",
      ),
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(file, "utf8")).tokens["anthropic:manual"].token, token);
    const status = await runCli(["token", "status"], t.env);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /anthropic:manual\s+sk-ant-oat01-…\S{4}\s+saved \S+ ago/);
    const bad = await runCli(["token", "set"], t.env, { input: "sk-ant-oat01-short\n" });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Token looks too short; paste the full setup-token/);
    const argv = await runCli(["token", "set", token], t.env, { input: "" });
    assert.notEqual(argv.code, 0, "a token on the command line is refused");
    const clear = await runCli(["token", "clear"], t.env);
    assert.equal(clear.code, 0, clear.stderr);
    assert.equal((await runCli(["token", "status"], t.env)).code, 1);
    assert.deepEqual(
      leakedTokens([set, status, bad, argv, clear].map((r) => r.stdout + r.stderr).join("\n"), t.planted),
      [],
    );
  }));

test("sync copies stored and env setup-tokens into every agent as static token profiles, beside the Claude login", () =>
  withHome(async (t) => {
    t.writeCredentials();
    const stored = randomToken();
    const fromEnv = randomToken();
    t.planted.push(stored, fromEnv);
    assert.equal((await runCli(["token", "set", "--profile", "anthropic:ops"], t.env, { input: stored })).code, 0);
    const env = { ...t.env, CLAUDE_CODE_OAUTH_TOKEN: fromEnv };
    const r = await runCli(["sync"], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const store = t.readStore("main");
    // The stored token carries its expiry (a year by default); the environment's has none to give.
    const { expires } = store.profiles["anthropic:ops"];
    assert.ok(Math.abs(expires - (Date.now() + 365 * 86_400_000)) < 60_000, String(expires));
    assert.deepEqual(store.profiles["anthropic:ops"], { type: "token", provider: "anthropic", token: stored, expires });
    assert.deepEqual(store.profiles["anthropic:manual"], { type: "token", provider: "anthropic", token: fromEnv });
    assert.equal(store.profiles["anthropic:claude-cli"].type, "token");
    const status = await runCli(["status"], env);
    assert.equal(status.code, 0, status.stdout);
    assert.match(status.stdout, /anthropic:ops token sk-ant-oat01-…\S{4} expires in 36\dd\S* \(matches source\)/);
    assert.match(status.stdout, /anthropic:manual token sk-ant-oat01-…\S{4} \(static\) \(matches source\)/);
    assert.deepEqual(leakedTokens(r.stdout + r.stderr + status.stdout, t.planted), []);
  }));

test("a host with only a setup-token and no Claude login syncs it and exits 0", () =>
  withHome(async (t) => {
    const token = randomToken();
    const r = await runCli(["sync"], { ...t.env, CLAUDE_CODE_OAUTH_TOKEN: token });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /note: anthropic:claude-cli not synced: not logged in/);
    assert.equal(t.readStore("main").profiles["anthropic:manual"].token, token);
  }));

test("readLimited: stops reading past the limit, and an endless stream is not read on", async () => {
  assert.equal(
    await readLimited(Readable.from([Buffer.from("a".repeat(STDIN_LIMIT_BYTES))]), STDIN_LIMIT_BYTES),
    "a".repeat(STDIN_LIMIT_BYTES),
  );
  let pulled = 0;
  const endless = new Readable({
    read() {
      pulled++;
      this.push(Buffer.alloc(1024));
    },
  });
  await assert.rejects(readLimited(endless, STDIN_LIMIT_BYTES), /^AuthSyncError: stdin holds more than 4096 bytes/);
  assert.ok(pulled <= 8, `read ${pulled} KiB`);
  assert.ok(endless.destroyed);
});

test("token set refuses a 1 MB stdin in one line, exit 1, and stores nothing", () =>
  withHome(async (t) => {
    const token = randomToken();
    t.planted.push(token);
    // spawnSync: the CLI closes its stdin early, which runCli's writer would see as EPIPE.
    const input = `${token}\n${"x".repeat(1 << 20)}`;
    const r = spawnSync(process.execPath, [BIN, "token", "set"], { env: t.env, input, encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^moltbot-auth-sync: stdin holds more than 4096 bytes, which is no setup-token; nothing was stored\n$/,
    );
    assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
    assert.equal((await runCli(["token", "status"], t.env)).code, 1, "nothing stored");
  }));
