import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fingerprint } from "../../src/core/fingerprint.js";
import { installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, runCli, type TestHome } from "../helpers/env.js";

const PERSONAL = "anthropic:personal";
const WORK = "anthropic:work";

/** Two logins in config dirs of their own; `work` is logged out unless `workLoggedIn`. */
function twoLogins(t: TestHome, workLoggedIn: boolean) {
  const personal = path.join(t.root, "claude-personal");
  const work = path.join(t.root, "claude-work");
  mkdirSync(personal);
  mkdirSync(work);
  t.claudeDir = personal;
  const token = t.writeCredentials().accessToken;
  t.claudeDir = work;
  const workToken = workLoggedIn ? t.writeCredentials().accessToken : undefined;
  const file = path.join(t.root, "config.json");
  const logins = [
    { claudeConfigDir: personal, profileId: PERSONAL },
    { claudeConfigDir: work, profileId: WORK },
  ];
  writeFileSync(file, JSON.stringify({ logins }));
  return { file, token, workToken, personal, work };
}

test("sync: two logins go into their own profiles, each named in --json", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { file, token, workToken, personal } = twoLogins(t, true);
    const r = await runCli(["sync", "--json", "--config", file], t.env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.logins.map((l: { login: { profileId: string } }) => l.login.profileId),
      [PERSONAL, WORK],
    );
    assert.equal(out.logins[0].login.claudeConfigDir, personal);
    assert.equal(out.logins[0].source.fingerprint, fingerprint(token));
    const store = t.readStore("main");
    assert.equal(store.profiles[PERSONAL].token, token);
    assert.equal(store.profiles[WORK].token, workToken);
    assert.equal(store.profiles["anthropic:claude-cli"], undefined);
    assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
  } finally {
    t.cleanup();
  }
});

test("sync: a login that is logged out fails on its own line; the other is still synced", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { file, token } = twoLogins(t, false);
    const r = await runCli(["sync", "--config", file], t.env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^login anthropic:personal \(.*claude-personal\):$/m);
    assert.match(r.stderr, /^moltbot-auth-sync: anthropic:work: not logged in to Claude Code/m);
    assert.doesNotMatch(r.stderr, /anthropic:personal: /);
    assert.equal(t.readStore("main").profiles[PERSONAL].token, token);
  } finally {
    t.cleanup();
  }
});

test("status: each login's source on its own line and in --json; the verdict names a logged-out login", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { file, token, personal, work } = twoLogins(t, false);
    await runCli(["sync", "--config", file], t.env);
    const text = await runCli(["status", "--config", file], t.env);
    assert.equal(text.code, 1, text.stdout + text.stderr);
    assert.ok(text.stdout.includes(`source  ${PERSONAL} (${personal}): ${fingerprint(token)} expires`), text.stdout);
    assert.ok(text.stdout.includes(`source  ${WORK} (${work}): not logged in to Claude Code`), text.stdout);
    assert.match(text.stderr, /anthropic:work: not logged in/);
    const json = JSON.parse((await runCli(["status", "--json", "--config", file], t.env)).stdout);
    assert.deepEqual(
      json.logins.map((l: { profileId: string; claudeConfigDir: string; source: { ok: boolean } }) => [
        l.profileId,
        l.claudeConfigDir,
        l.source.ok,
      ]),
      [
        [PERSONAL, personal, true],
        [WORK, work, false],
      ],
    );
    assert.equal(json.exitCode, 1);
  } finally {
    t.cleanup();
  }
});

test("doctor: every check about a login names it and its config dir", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { file, work } = twoLogins(t, false);
    await runCli(["sync", "--config", file], t.env);
    const r = await runCli(["doctor", "--json", "--config", file], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const checks = JSON.parse(r.stdout).checks as Array<{ name: string; status: string; detail: string }>;
    const names = checks.map((c) => c.name);
    for (const id of [PERSONAL, WORK])
      for (const name of ["claude", "source"]) assert.ok(names.includes(`${name} ${id}`));
    assert.deepEqual(
      checks.filter((c) => c.name.startsWith("source ")).map((c) => [c.name, c.status]),
      [
        [`source ${PERSONAL}`, "ok"],
        [`source ${WORK}`, "fail"],
      ],
    );
    const workSource = checks.find((c) => c.name === `source ${WORK}`)!;
    assert.ok(workSource.detail.startsWith(`${work}: not logged in`), workSource.detail);
    assert.deepEqual(leakedTokens(r.stdout + r.stderr, t.planted), []);
  } finally {
    t.cleanup();
  }
});

test("config: two logins with one profile id or one config dir are refused by name", async () => {
  const t = makeHome();
  try {
    const file = path.join(t.root, "config.json");
    const a = path.join(t.root, "a");
    mkdirSync(a);
    symlinkSync(a, path.join(t.root, "a-link"));
    for (const [logins, message] of [
      [
        [
          { claudeConfigDir: a, profileId: WORK },
          { claudeConfigDir: path.join(t.root, "b"), profileId: WORK },
        ],
        /key logins\.1\.profileId: anthropic:work is already used by logins\.0/,
      ],
      [
        [
          { claudeConfigDir: a, profileId: WORK },
          { claudeConfigDir: `${a}/`, profileId: PERSONAL },
        ],
        /key logins\.1\.claudeConfigDir: .* is the same folder as logins\.0/,
      ],
      [
        [
          { claudeConfigDir: a, profileId: WORK },
          { claudeConfigDir: path.join(t.root, "a-link"), profileId: PERSONAL },
        ],
        /key logins\.1\.claudeConfigDir: .*a-link is the same folder as logins\.0/,
      ],
      [
        [
          { claudeConfigDir: t.claudeDir, profileId: WORK },
          { claudeConfigDir: "~/.claude", profileId: PERSONAL },
        ],
        /key logins\.1\.claudeConfigDir: ~\/\.claude is the same folder as logins\.0/,
      ],
      [[], /key logins: /],
      [[{ claudeConfigDir: a, profileId: "work" }], /key logins\.0\.profileId: expected an id such as/],
    ] as const) {
      writeFileSync(file, JSON.stringify({ logins }));
      const r = await runCli(["status", "--config", file], t.env);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  } finally {
    t.cleanup();
  }
});

test("cooldown clear without --profile clears every login's profile", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const { file } = twoLogins(t, true);
    assert.equal((await runCli(["sync", "--config", file], t.env)).code, 0);
    const store = t.readStore("main");
    const until = Date.now() + 30 * 60_000;
    store.usageStats = {
      [PERSONAL]: { cooldownUntil: until, errorCount: 1, failureCounts: { rate_limit: 1 } },
      [WORK]: { cooldownUntil: until, errorCount: 1, failureCounts: { rate_limit: 1 } },
    };
    writeFileSync(t.storePath("main"), JSON.stringify(store));
    const r = await runCli(["cooldown", "clear", "--json", "--config", file], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).profile, [PERSONAL, WORK]);
    const after = t.readStore("main").usageStats ?? {};
    for (const id of [PERSONAL, WORK]) assert.equal(after[id]?.cooldownUntil, undefined, JSON.stringify(after));
  } finally {
    t.cleanup();
  }
});
