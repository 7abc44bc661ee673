import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { SourceError } from "../../src/core/errors.js";
import { claudeConfigDir, parseClaudeCredentials, readClaudeCliFile } from "../../src/sources/claude-cli-file.js";
import { randomToken, withHome } from "../helpers/env.js";

const problem = (p: string) => (err: unknown) => err instanceof SourceError && err.problem === p;

test("parses the CLI's shape and keeps unknown fields out of the way", () => {
  const accessToken = randomToken();
  const c = parseClaudeCredentials(
    JSON.stringify({
      claudeAiOauth: {
        accessToken,
        refreshToken: randomToken("ort"),
        expiresAt: 1_800_000_000_000,
        scopes: ["user:inference"],
        rateLimitTier: "x",
        newField: 1,
      },
      mcpOAuth: {},
    }),
    "f",
  );
  assert.equal(c.accessToken, accessToken);
  assert.equal(c.expiresAt, 1_800_000_000_000);
});

test("a refresh-less login is accepted", () => {
  const c = parseClaudeCredentials(
    JSON.stringify({ claudeAiOauth: { accessToken: randomToken(), expiresAt: 1_800_000_000_000 } }),
    "f",
  );
  assert.equal(c.refreshToken, undefined);
});

test("bad shapes give one specific message without token text", () => {
  const token = randomToken();
  const cases: Array<[string, RegExp, string]> = [
    ["", /is empty/, "invalid"],
    ['{"claudeAiOauth":{"accessTo', /not valid JSON/, "invalid"],
    [
      JSON.stringify({ claudeAiOauth: { accessToken: token, expiresAt: "soon" } }),
      /claudeAiOauth\.expiresAt/,
      "invalid",
    ],
    [
      JSON.stringify({ claudeAiOauth: { accessToken: 42, expiresAt: 1_800_000_000_000 } }),
      /claudeAiOauth\.accessToken/,
      "invalid",
    ],
    [
      JSON.stringify({ claudeAiOauth: { accessToken: token, expiresAt: 1_800_000_000 } }),
      /looks like seconds/,
      "invalid",
    ],
    [JSON.stringify({ mcpOAuth: {} }), /no Claude subscription login/, "not_logged_in"],
    ["[1,2]", /top level|expected object/, "invalid"],
  ];
  for (const [text, message, kind] of cases) {
    assert.throws(
      () => parseClaudeCredentials(text, "f"),
      (err: Error) => problem(kind)(err) && message.test(err.message) && !err.message.includes(token.slice(15)),
      text,
    );
  }
});

test("each bad field gets the one-line message zod 4 gave it (captured before zod was replaced)", () => {
  const oauth = (fields: object) => JSON.stringify({ claudeAiOauth: fields });
  const cases: Array<[string, string]> = [
    ["null", "top level: Invalid input: expected object, received null"],
    [JSON.stringify({ claudeAiOauth: 5 }), "claudeAiOauth: Invalid input: expected object, received number"],
    [oauth({}), "claudeAiOauth.accessToken: Invalid input: expected string, received undefined"],
    [oauth({ accessToken: "" }), "claudeAiOauth.accessToken: Too small: expected string to have >=1 characters"],
    [
      oauth({ accessToken: "a", expiresAt: 1.5 }),
      "claudeAiOauth.expiresAt: Invalid input: expected int, received number",
    ],
    [oauth({ accessToken: "a", expiresAt: 0 }), "claudeAiOauth.expiresAt: Too small: expected number to be >0"],
    [
      '{"claudeAiOauth":{"accessToken":"a","expiresAt":1e400}}',
      "claudeAiOauth.expiresAt: Invalid input: expected number, received Infinity",
    ],
    [
      oauth({ accessToken: "a", expiresAt: 1_800_000_000_000, refreshToken: null, scopes: [1] }),
      "claudeAiOauth.scopes.0: Invalid input: expected string, received number",
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseClaudeCredentials(text, "f"), { message: `credentials f: ${message}` }, text);
  }
  const extra = oauth({ accessToken: "a", expiresAt: 1_800_000_000_000, subscriptionType: null, more: 1 });
  assert.equal(parseClaudeCredentials(extra, "f", 1_790_000_000_000).accessToken, "a", "unknown fields are allowed");
});

test("missing file means not logged in, with the remedy", () =>
  withHome(async (t) => {
    await assert.rejects(
      readClaudeCliFile(path.join(t.claudeDir, ".credentials.json")),
      (err: Error) =>
        problem("not_logged_in")(err) && /run `claude` and \/login, or use a setup-token/.test(err.message),
    );
  }));

test("a FIFO, a symlink loop and 10 MB of garbage are refused without hanging", () =>
  withHome(async (t) => {
    const fifo = path.join(t.root, "fifo");
    execFileSync("mkfifo", [fifo]);
    await assert.rejects(
      readClaudeCliFile(fifo),
      (err: Error) => problem("unreadable")(err) && /not a regular file/.test(err.message),
    );
    const loop = path.join(t.root, "loop");
    symlinkSync(loop, loop);
    await assert.rejects(readClaudeCliFile(loop), problem("unreadable"));
    const big = path.join(t.root, "big");
    writeFileSync(big, Buffer.alloc(10 * 1024 * 1024, 0x61));
    await assert.rejects(
      readClaudeCliFile(big),
      (err: Error) => problem("unreadable")(err) && /more than/.test(err.message),
    );
  }));

test("CLAUDE_CONFIG_DIR moves the file; config claudeConfigDir wins over it", () => {
  assert.equal(claudeConfigDir(undefined, { HOME: "/h" }), "/h/.claude");
  assert.equal(claudeConfigDir(undefined, { HOME: "/h", CLAUDE_CONFIG_DIR: "/c" }), "/c");
  assert.equal(claudeConfigDir("/x", { HOME: "/h", CLAUDE_CONFIG_DIR: "/c" }), "/x");
});
