import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { loadConfig, parseConfig } from "../src/config/config.js";
import { editDistance, nearestKeys } from "../src/config/suggest.js";
import { ConfigError } from "../src/core/errors.js";
import { REPO, runCli, withHome } from "./helpers/env.js";

test("every key has a default", () => {
  const config = parseConfig({}, "test");
  assert.equal(config.profileId, "anthropic:claude-cli");
  assert.equal(config.credentialType, "token");
  assert.equal(config.expiryWarning, 3_600_000);
  assert.equal(config.refreshMargin, 240_000);
  assert.equal(config.refreshTimeout, 120_000);
  assert.equal(config.resyncCron, "*/5 * * * *");
});

test("refreshing spends no model request by default; the fallback is the smallest request", () => {
  const config = parseConfig({}, "test");
  assert.deepEqual(config.refreshCommand, ["claude", "mcp", "serve"]);
  const request = ["claude", "-p", "ok", "--model", "haiku", "--max-turns", "1", "--no-session-persistence"];
  assert.deepEqual(config.fallbackRefreshCommand, request);
  // docs.test.ts checks that docs/config.md writes these same defaults; the prose in daemon.md names them too.
  const daemonDoc = readFileSync(path.join(REPO, "docs", "daemon.md"), "utf8").replace(/\s+/g, " ");
  assert.ok(daemonDoc.includes(`\`${config.refreshCommand.join(" ")}\``), "docs/daemon.md names the default");
  assert.ok(daemonDoc.includes(`\`${request.join(" ")}\``), "docs/daemon.md names the fallback");
});

test("durations accept strings and milliseconds", () => {
  assert.equal(parseConfig({ expiryWarning: "30m" }, "t").expiryWarning, 1_800_000);
  assert.equal(parseConfig({ expiryWarning: 5000 }, "t").expiryWarning, 5000);
});

test("a typo is an error naming the key", () => {
  assert.throws(
    () => parseConfig({ profileID: "x" }, "config f"),
    (err: Error) => err instanceof ConfigError && /unknown key "profileID"/.test(err.message),
  );
  assert.throws(() => parseConfig({ expiryWarning: "soon" }, "config f"), /key expiryWarning: expected a duration/);
  assert.throws(() => parseConfig({ credentialType: "api" }, "config f"), /key credentialType/);
  assert.throws(
    () => parseConfig({ resyncCron: "every day" }, "config f"),
    /key resyncCron: not a valid cron expression/,
  );
});

test("an unknown key names the nearest known one, at any depth of the schema, and only when it is near", () => {
  const cases: Array<[unknown, string | string[]]> = [
    [{ stateDri: "/s" }, 'unknown key "stateDri"; did you mean "stateDir"?'],
    [{ profileID: "anthropic:x" }, 'unknown key "profileID"; did you mean "profileId"?'],
    [{ loglevel: "info" }, 'unknown key "loglevel"; did you mean "logLevel"?'],
    [{ refreshComand: ["x"] }, 'unknown key "refreshComand"; did you mean "refreshCommand"?'],
    [{ login: [] }, 'unknown key "login"; did you mean "logins"?'],
    [{ stateDirz: [] }, 'unknown key "stateDirz"; did you mean "stateDir" or "stateDirs"?'],
    [{ stateDri: "/s", expiry: "1h" }, ['unknown key "stateDri"; did you mean "stateDir"?', 'unknown key "expiry"']],
    [
      { metrics: { listen: "127.0.0.1:9", alowRemote: true } },
      'key metrics: unknown key "alowRemote"; did you mean "allowRemote"?',
    ],
    [
      {
        logins: [
          { claudeConfigDir: "/a", profileId: "anthropic:a" },
          { claudeConfigDir: "/b", profileid: "x" },
        ],
      },
      [
        "key logins.1.profileId: Invalid input: expected string, received undefined",
        'key logins.1: unknown key "profileid"; did you mean "profileId"?',
      ],
    ],
    [{ logins: [{ claudeConfigDir: "/a", profileId: "anthropic:a", nmae: "x" }] }, 'key logins.0: unknown key "nmae"'],
    [{ zzz: 1 }, 'unknown key "zzz"'],
    [{ source2: "auto", origin: "file" }, ['unknown key "source2"; did you mean "source"?', 'unknown key "origin"']],
    [{ listen: "127.0.0.1:9" }, 'unknown key "listen"'],
  ];
  for (const [input, lines] of cases) {
    const message = [lines]
      .flat()
      .map((line) => `config /etc/c.json: ${line}`)
      .join("\n");
    assert.throws(() => parseConfig(input, "config /etc/c.json"), { message }, JSON.stringify(input));
  }
  const huge = "x".repeat(200_000);
  const started = Date.now();
  assert.throws(
    () => parseConfig({ [huge]: 1 }, "c"),
    (err: ConfigError) => err.lines.length === 1,
  );
  assert.ok(Date.now() - started < 2_000, "a huge key is not compared letter by letter with every known key");
});

test("the edit distance counts a swap of neighbours as one edit", () => {
  assert.equal(editDistance("", ""), 0);
  assert.equal(editDistance("abc", ""), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("stateDri", "stateDir"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("ca", "abc"), 3, "optimal string alignment: a swapped pair is not edited again");
  assert.equal(editDistance("lockTimout", "lockTimeout"), 1);
  assert.deepEqual(nearestKeys("abcdefghi", ["abcdewxyz"]), [], "four edits in nine is too far");
  assert.deepEqual(nearestKeys("abcdefghi", ["abcdefxyz"]), ["abcdefxyz"], "three in nine is near enough");
  assert.deepEqual(nearestKeys("abcdefghi", ["abcdefghx", "abcdefxyi", "abcdefgxi"]), ["abcdefghx", "abcdefgxi"]);
  assert.deepEqual(nearestKeys("ab", ["ac", "abcd"]), ["ac"], "a short key takes one edit");
});

test("each bad value gets zod's message, one line per problem naming the key", () => {
  const cases: Array<[unknown, string | string[]]> = [
    [{ a: 1, b: 2 }, ['unknown key "a"', 'unknown key "b"']],
    [
      { zzz: 1, credentialType: "api" },
      ['key credentialType: Invalid option: expected one of "token"|"oauth"', 'unknown key "zzz"'],
    ],
    [{ expiryWarning: true }, "key expiryWarning: Invalid input"],
    [{ refreshMargin: Infinity }, "key refreshMargin: Invalid input"],
    [
      { expiryWarning: -5 },
      'key expiryWarning: expected a duration such as "30m", "120s", "1h" or milliseconds, got -5',
    ],
    [{ stateDir: "" }, "key stateDir: Too small: expected string to have >=1 characters"],
    [{ stateDir: null }, "key stateDir: Invalid input: expected string, received null"],
    [{ resyncCron: 5 }, "key resyncCron: Invalid input: expected string, received number"],
    [{ profileId: "bad" }, 'key profileId: expected an id such as "anthropic:claude-cli"'],
    [{ refreshCommand: [] }, "key refreshCommand: Too small: expected array to have >=1 items"],
    [{ refreshCommand: "claude" }, "key refreshCommand: Invalid input: expected array, received string"],
    [{ refreshCommand: ["a", 3] }, "key refreshCommand.1: Invalid input: expected string, received number"],
    [{ metrics: {} }, "key metrics.listen: Invalid input: expected string, received undefined"],
    [{ metrics: { listen: "127.0.0.1:9", q: 1 } }, 'key metrics: unknown key "q"'],
    [
      { metrics: { listen: "10.0.0.1:9" } },
      "key metrics.listen: 10.0.0.1 is not a loopback address; set metrics.allowRemote to true to serve other hosts",
    ],
    [
      { metrics: { listen: "::1", allowRemote: "yes" } },
      "key metrics.allowRemote: Invalid input: expected boolean, received string",
    ],
    [{ logins: {} }, "key logins: Invalid input: expected array, received object"],
    [
      {
        logins: [
          { claudeConfigDir: "/a", profileId: "anthropic:a" },
          { claudeConfigDir: "/a", profileId: "anthropic:a" },
        ],
      },
      [
        "key logins.1.profileId: anthropic:a is already used by logins.0",
        "key logins.1.claudeConfigDir: /a is the same folder as logins.0",
      ],
    ],
    [[], "Invalid input: expected object, received array"],
    [{ resyncCron: "*/5 * * *" }, "key resyncCron: not a valid cron expression"],
    [{ stateDir: "/a", stateDirs: ["/b"] }, "stateDir and stateDirs cannot both be set; keep one"],
  ];
  for (const [input, lines] of cases) {
    const message = [lines]
      .flat()
      .map((line) => `config f: ${line}`)
      .join("\n");
    assert.throws(() => parseConfig(input, "config f"), { message }, JSON.stringify(input));
  }
  const defaults = parseConfig({}, "t");
  defaults.refreshCommand.push("--debug");
  assert.deepEqual(parseConfig({}, "t").refreshCommand, ["claude", "mcp", "serve"], "a default is never shared");
  assert.ok(!("stateDir" in defaults), "an absent optional key stays absent");
});

test("MOLTBOT_AUTH_SYNC_CONFIG names the file, and a missing named file is an error", () =>
  withHome(async (t) => {
    const file = path.join(t.root, "c.json");
    writeFileSync(file, JSON.stringify({ profileId: "anthropic:mine" }));
    assert.equal(
      (await loadConfig(undefined, {}, { ...t.env, MOLTBOT_AUTH_SYNC_CONFIG: file })).config.profileId,
      "anthropic:mine",
    );
    await assert.rejects(loadConfig(path.join(t.root, "nope.json"), {}, t.env), /cannot read/);
    assert.equal((await loadConfig(undefined, {}, t.env)).file, undefined, "the default file is optional");
  }));

test("a bad config exits 78 with one line per problem naming file and key, and touches no store", () =>
  withHome(async (t) => {
    t.writeCredentials();
    const dir = path.join(t.home, ".config", "moltbot-auth-sync");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ credentialType: "bogus" }));
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 78);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /config\.json: key credentialType/);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ credentialType: "bogus", lockTimeout: "\nsoon" }));
    const two = await runCli(["sync"], t.env);
    assert.equal(two.code, 78);
    const lines = two.stderr.trim().split("\n");
    assert.equal(lines.length, 2, "one line per problem; a newline in a value cannot start another");
    assert.match(lines[0]!, /config\.json: key credentialType: Invalid option/);
    assert.match(lines[1]!, /config\.json: key lockTimeout: expected a duration .* got "\\nsoon"/);
    writeFileSync(path.join(dir, "config.json"), "{not json");
    const r2 = await runCli(["sync"], t.env);
    assert.equal(r2.code, 78);
    assert.match(r2.stderr, /not valid JSON/);
  }));
