import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { loadConfig, parseConfig } from "../src/config/config.js";
import { jsonErrorLine, jsonErrorOffset, lineColumn } from "../src/config/json-error.js";
import { editDistance, nearestKeys } from "../src/config/suggest.js";
import { ConfigError } from "../src/core/errors.js";
import { hasControl } from "../src/core/terminal-text.js";
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
    const where = path.join(dir, "config.json");
    assert.equal(r2.stderr, `moltbot-auth-sync: config ${where}:1:2: not valid JSON: Expected property name or '}'\n`);
  }));

/** What JSON.parse says about `text`, or undefined when it is JSON. */
function parseError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

test("a JSON syntax error is file:line:column and what is wrong, without JSON.parse's excerpt of the file", () => {
  const cases: Array<[string, string]> = [
    ['{\n  "stateDir": "/s",\n  "refreshMargin": x\n}', "3:20: not valid JSON: Unexpected token 'x'"],
    ['{\n  "refreshMargin": 10m\n}', "2:22: not valid JSON: Expected ',' or '}' after property value"],
    ['{"a": 1,}', "1:9: not valid JSON: Expected double-quoted property name"],
    ["{'a': 1}", "1:2: not valid JSON: Expected property name or '}'"],
    ['{"a": tru}', "1:10: not valid JSON: Unexpected token '}'"],
    ['{"a": 1', "1:8: not valid JSON: Expected ',' or '}' after property value"],
    ['{"a": [1, 2', "1:12: not valid JSON: Expected ',' or ']' after array element"],
    ['{"a": "x', "1:9: not valid JSON: Unterminated string"],
    ['{"a": 1}}', "1:9: not valid JSON: Unexpected non-whitespace character after JSON: '}'"],
    ['{"a": "\\q"}', "1:9: not valid JSON: Bad escaped character: 'q'"],
    ['{"a": "x\ty"}', "1:9: not valid JSON: Bad control character in string literal: '\\t' (U+0009)"],
    ['{\r\n"a" 1}', "2:5: not valid JSON: Expected ':' after property name"],
    ['{\n\t"a":\u00a01}', "2:6: not valid JSON: Unexpected token '\u00a0' (U+00A0)"],
    ['{"a": \u201cx\u201d}', "1:7: not valid JSON: Unexpected token '\u201c' (U+201C)"],
    ['{"\u{1f600}": 1, x}', "1:10: not valid JSON: Expected double-quoted property name"],
    ['{"a": "\u{1f600}" \u{1f600}}', "1:11: not valid JSON: Expected ',' or '}' after property value"],
    ["[".repeat(100_000) + "x", `1:100001: not valid JSON: Unexpected token 'x'`],
    ["undefined", "1:1: not valid JSON: Unexpected token 'u'"],
  ];
  for (const [text, expected] of cases) {
    const message = parseError(text);
    assert.ok(message !== undefined, text);
    assert.equal(jsonErrorLine("/etc/c.json", text, message), `/etc/c.json:${expected}`, JSON.stringify(text));
  }
  assert.equal(
    jsonErrorLine("/etc/c.json", " \n", parseError(" \n")!),
    "/etc/c.json: the file is empty; {} is a config with every default",
  );
  // An excerpt JSON.parse quotes may hold newlines and escape sequences; the line holds neither, only their names.
  const hostile = '{"a": 1,\n "b": \u001b[2J\u001b]0;title\u0007}';
  const line = jsonErrorLine("/etc/c.json", hostile, parseError(hostile)!);
  assert.equal(line, "/etc/c.json:2:7: not valid JSON: Unexpected token '\\x1b' (U+001B)");
  assert.ok(!hasControl(line));
  // A message we cannot place (a later Node's wording, say) is passed on whole, but never raw.
  assert.equal(
    jsonErrorLine("/etc/c.json", '{"a": x}', 'Unexpected token \'y\', "{"a": x\u001b}" is not valid JSON'),
    '/etc/c.json: not valid JSON: Unexpected token \'y\', "{"a": x\\x1b}" is not valid JSON',
  );
  assert.deepEqual(lineColumn("a\r\nb\rc\nd\u{1f600}e", 10), { line: 4, column: 3 });
});

test("the scan finds the place JSON.parse gives, on thousands of broken configs", () => {
  const config = JSON.stringify(
    {
      stateDir: "~/.openclaw",
      refreshMargin: "10m",
      lockTimeout: 60_000,
      x: [1, -2.5e3, 0.5, true, false, null, 'a\u00e9"b\\'],
      metrics: { listen: "127.0.0.1:9464", allowRemote: false },
      logins: [{ claudeConfigDir: "~/.claude", profileId: "anthropic:work" }, {}],
    },
    null,
    2,
  );
  const alphabet = "{}[]\",:0123456789-+.eEtrufalsn \n\t\\/ux\u0001\u00a0\u2028\u00e9\ufeff'";
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed % n;
  };
  let placed = 0;
  for (let n = 0; n < 5_000; n++) {
    let text = config;
    for (let edits = 1 + random(3); edits > 0; edits--) {
      const at = random(text.length + 1);
      const c = alphabet[random(alphabet.length)]!;
      const cut = random(3);
      text = text.slice(0, at) + (cut === 1 ? "" : c) + text.slice(cut === 0 ? at : at + 1);
      if (random(10) === 0) text = text.slice(0, random(text.length + 1));
    }
    const message = parseError(text);
    if (message === undefined) {
      assert.equal(jsonErrorOffset(text), undefined, JSON.stringify(text));
      continue;
    }
    const given = / at position (\d+)/.exec(message);
    if (given) assert.equal(jsonErrorOffset(text), Number(given[1]), `${message}: ${JSON.stringify(text)}`);
    if (text.trim() === "") continue;
    assert.match(jsonErrorLine("f", text, message), /^f:\d+:\d+: not valid JSON: [^\n]+$/, JSON.stringify(text));
    placed += 1;
  }
  assert.ok(placed > 3_000, `${placed} broken configs placed`);
});

test("loadConfig names the file, line and column of a syntax error, counted after a byte order mark", () =>
  withHome(async (t) => {
    const file = path.join(t.root, "config.json");
    writeFileSync(file, '\uFEFF{"profileId": "anthropic:bom"}');
    assert.equal((await loadConfig(file, {}, t.env)).config.profileId, "anthropic:bom");
    writeFileSync(file, '\uFEFF{"profileId": x}');
    await assert.rejects(loadConfig(file, {}, t.env), {
      message: `config ${file}:1:15: not valid JSON: Unexpected token 'x'`,
    });
    writeFileSync(file, '{\n  "stateDir": "/s",\n  "refreshMargin": x\n}\n');
    await assert.rejects(loadConfig(file, {}, t.env), {
      name: "ConfigError",
      message: `config ${file}:3:20: not valid JSON: Unexpected token 'x'`,
    });
  }));

test("a config that is JSON but not an object says what it is instead", () =>
  withHome(async (t) => {
    const file = path.join(t.root, "config.json");
    const cases: Array<[string, string]> = [
      ["[]", "an array"],
      ['"stateDir"', "a string"],
      ["null", "null"],
      ["7", "a number"],
    ];
    for (const [text, got] of cases) {
      writeFileSync(file, text);
      const message = `config ${file}: expected a JSON object such as {"logLevel": "info"}, got ${got}`;
      await assert.rejects(loadConfig(file, {}, t.env), { message });
    }
  }));

test("the CLI prints one line for bad JSON or an unknown key and exits 78; run does the same before it starts", () =>
  withHome(async (t) => {
    t.writeCredentials();
    const file = path.join(t.root, "config.json");
    const env = { ...t.env, MOLTBOT_AUTH_SYNC_CONFIG: file };
    const cases: Array<[string, string]> = [
      [
        '{\n  "logLevel": "info",\n  "stateDir": "/s" "x"\n}',
        `${file}:3:20: not valid JSON: Expected ',' or '}' after property value`,
      ],
      ['{\n  "a": \u001b[31m\n}', `${file}:2:8: not valid JSON: Unexpected token '\\x1b' (U+001B)`],
      ['{"stateDri": "/s"}', `${file}: unknown key "stateDri"; did you mean "stateDir"?`],
      [
        '{"logins": [{"claudeConfigDir": "/c", "profileId": "anthropic:c", "profileid": "x"}]}',
        `${file}: key logins.0: unknown key "profileid"; did you mean "profileId"?`,
      ],
    ];
    for (const [i, [text, expected]] of cases.entries()) {
      writeFileSync(file, text);
      // `run` reads the config before its logger exists, so its one line is on stderr, which the journal keeps.
      for (const command of i % 2 === 0 ? [["sync"], ["run"]] : [["status"]]) {
        const r = await runCli(command, env, { timeoutMs: 20_000 });
        assert.equal(r.code, 78, `${command[0]}: ${r.stderr}`);
        assert.equal(r.stderr, `moltbot-auth-sync: config ${expected}\n`, command[0]);
        assert.equal(r.stdout, "", "run writes no log line of its own before the config is read");
      }
    }
  }));
