/** Setup-token expiry through the real CLI: `token set --expires-in`, the profile's `expires`, `status`'s exit code. */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { parseExpiresIn } from "../../src/sources/setup-token.js";
import { type TestHome, leakedTokens, randomToken, runCli, withHome } from "../helpers/env.js";
import { vaultFile, writeVault } from "../helpers/vault.js";

const DAY = 86_400_000;
const ID = "anthropic:manual";

function vault(t: TestHome): Record<string, { token: string; savedAt: number; expires?: number }> {
  return JSON.parse(readFileSync(vaultFile(t), "utf8")).tokens;
}

function setup(t: TestHome): void {
  t.writeCredentials();
  for (const agent of ["main", "work"]) mkdirSync(t.agentDir(agent), { recursive: true });
}

test("parseExpiresIn: the gateway's paste-token syntax (a bare number is days, composites, any case), no zero", () => {
  const cases: Array<[string, number]> = [
    ["365d", 365 * DAY],
    ["12h", DAY / 2],
    ["1d12h", 1.5 * DAY],
    ["10", 10 * DAY],
    ["1.5d", 1.5 * DAY],
    [" 2H ", DAY / 12],
    ["90m", 90 * 60_000],
    ["30s", 30_000],
    ["1h30m", 90 * 60_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseExpiresIn(text, 0), ms, text);
  for (const bad of ["0", "0d", "10x", "1d 2h", "h", "", "-1d", "1e3d", "1y", "99999999999999d", "12h5"])
    assert.throws(
      () => parseExpiresIn(bad, 0),
      (err: Error) => /^--expires-in .*: expected a duration such as 365d/.test(err.message),
      bad,
    );
});

test("token set --expires-in 10d: every agent's profile gets expires, and status exits 2 naming the profile", () =>
  withHome(async (t) => {
    setup(t);
    const first = randomToken();
    const second = randomToken();
    t.planted.push(first, second);
    const outputs: string[] = [];
    const run = async (args: string[], input?: string) => {
      const r = await runCli(args, t.env, input !== undefined ? { input } : {});
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    // The default: a year from storing.
    const before = Date.now();
    const set = await run(["token", "set"], first);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /it expires in 365d \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\) \(the default, a year\)/);
    const stored = vault(t)[ID]!;
    assert.ok(stored.savedAt >= before && stored.savedAt <= Date.now());
    assert.equal(stored.expires, stored.savedAt + 365 * DAY);
    assert.equal((await run(["sync"])).code, 0);
    for (const agent of ["main", "work"]) assert.equal(t.readStore(agent).profiles[ID].expires, stored.expires);
    assert.equal((await run(["status"])).code, 0, "a year ahead is not expiring");

    // The same id again, with a shorter life: it replaces the stored copy everywhere, though that one expires later.
    const again = await run(["token", "set", "--expires-in", "10d"], second);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /it expires in 10d \(/);
    const replaced = vault(t)[ID]!;
    assert.equal(replaced.token, second);
    assert.equal(replaced.expires, replaced.savedAt + 10 * DAY);
    assert.equal((await run(["sync"])).code, 0);
    for (const agent of ["main", "work"]) {
      const profile = t.readStore(agent).profiles[ID];
      assert.deepEqual(profile, { type: "token", provider: "anthropic", token: second, expires: replaced.expires });
    }

    const status = await run(["status"]);
    assert.equal(status.code, 2, status.stdout + status.stderr);
    assert.match(status.stderr, /setup-token anthropic:manual expires in (?:10d|9d23h) \(\d{4}-.* UTC\)/);
    assert.match(status.stderr, /a setup-token warns 30d ahead/);
    assert.match(status.stdout, /token {3}anthropic:manual expires in (?:10d|9d23h)/);
    const json = JSON.parse((await run(["status", "--json"])).stdout);
    assert.equal(json.exitCode, 2);
    assert.deepEqual(json.setupTokens[0], { profile: ID, origin: vaultFile(t), expires: replaced.expires });
    const tokenStatus = await run(["token", "status"]);
    assert.match(tokenStatus.stdout, /expires in (?:10d|9d23h)/);
    assert.deepEqual(leakedTokens(outputs.join("\n"), t.planted), []);
  }));

test("token set with a bad --expires-in: one line, exit 1, nothing stored, a token-shaped value never echoed", () =>
  withHome(async (t) => {
    const token = randomToken();
    t.planted.push(token);
    for (const bad of ["1y", "0", "ten days", token]) {
      const r = await runCli(["token", "set", "--expires-in", bad], t.env, { input: token });
      assert.equal(r.code, 1, bad);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(
        r.stderr,
        /--expires-in ".*": expected a duration such as 365d, 12h or 1d12h \(a bare number is days\)/,
      );
      assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
    }
    assert.throws(() => readFileSync(vaultFile(t)), /ENOENT/, "nothing was stored");
  }));

test("status: a setup-token stored 366 days ago expired (exit 1); no stored time, or the env's: expiry unknown", () =>
  withHome(async (t) => {
    setup(t);
    const old = randomToken();
    const legacy = randomToken();
    const fromEnv = randomToken();
    t.planted.push(old, legacy, fromEnv);
    const savedAt = Date.now() - 366 * DAY;
    writeVault(t, { [ID]: { token: old, savedAt } });
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.equal(t.readStore("main").profiles[ID].expires, savedAt + 365 * DAY, "the default year, from savedAt");
    const expired = await runCli(["status"], t.env);
    assert.equal(expired.code, 1, expired.stdout + expired.stderr);
    assert.match(expired.stderr, /setup-token anthropic:manual expired 1d ago \(/);

    // Stored before savedAt was kept: unknown, reported, not an error; the profile is synced without expires.
    writeVault(t, { [ID]: { token: legacy } });
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.equal("expires" in t.readStore("main").profiles[ID], false);
    const unknown = await runCli(["status"], t.env);
    assert.equal(unknown.code, 0, unknown.stdout + unknown.stderr);
    assert.match(
      unknown.stdout,
      /token {3}anthropic:manual expiry unknown from .* \(stored by a version that did not record when/,
    );
    assert.match((await runCli(["token", "status"], t.env)).stdout, /expiry unknown/);

    // CLAUDE_CODE_OAUTH_TOKEN has no stored time either.
    writeVault(t, {});
    const env = { ...t.env, CLAUDE_CODE_OAUTH_TOKEN: fromEnv };
    const envStatus = await runCli(["status"], env);
    assert.match(
      envStatus.stdout,
      /token {3}anthropic:manual expiry unknown from env CLAUDE_CODE_OAUTH_TOKEN \(the environment/,
    );
    assert.deepEqual(
      leakedTokens([expired, unknown, envStatus].map((r) => r.stdout + r.stderr).join("\n"), t.planted),
      [],
    );
  }));
