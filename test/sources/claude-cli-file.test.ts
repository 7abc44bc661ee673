import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
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

test("each bad field gets zod's message naming it, every problem on the one line", () => {
  const oauth = (fields: object) => JSON.stringify({ claudeAiOauth: fields });
  const cases: Array<[string, string]> = [
    ["null", "top level: Invalid input: expected object, received null"],
    [JSON.stringify({ claudeAiOauth: 5 }), "claudeAiOauth: Invalid input: expected object, received number"],
    [
      oauth({}),
      "claudeAiOauth.accessToken: Invalid input: expected string, received undefined; " +
        "claudeAiOauth.expiresAt: Invalid input: expected number, received undefined",
    ],
    [
      oauth({ accessToken: "", expiresAt: 1_800_000_000_000 }),
      "claudeAiOauth.accessToken: Too small: expected string to have >=1 characters",
    ],
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

const DAY = 86_400_000;

/** A file as Claude Code 2.1.332 writes it: the login's end, and keys this tool has no use for, around it. */
function cli2_1_332File(fields: { accessToken: string; refreshToken: string; expiresAt: number; end?: unknown }) {
  return JSON.stringify({
    claudeAiOauth: {
      accessToken: fields.accessToken,
      refreshToken: fields.refreshToken,
      expiresAt: fields.expiresAt,
      ...(fields.end === undefined ? {} : { refreshTokenExpiresAt: fields.end }),
      scopes: ["user:inference", "user:profile", "user:sessions:claude_code"],
      subscriptionType: "max",
      subscriptionTypeSource: "sign_in",
      subscriptionTypeVerifiedAt: 1_790_000_000_000,
      rateLimitTier: "default_claude_max_20x",
      clientId: "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
      accountUuid: "00000000-0000-4000-8000-000000000001",
      tokenAccount: { uuid: "u", emailAddress: "a@example.com", organizationUuid: "o" },
    },
    hybridOauth: { organizationUuid: "o", accountUuid: "u", emailAddress: "a@example.com", token: randomToken() },
    hybridGatewayAuth: { url: "https://gateway.example", organizationUuid: "o", email: "a@example.com" },
    mcpOAuth: { "server|abc": { accessToken: randomToken(), expiresAt: 1 } },
  });
}

test("the login's end (refreshTokenExpiresAt) is read; new keys around it are tolerated and the file is not written", () =>
  withHome(async (t) => {
    const accessToken = randomToken();
    const refreshToken = randomToken("ort");
    const expiresAt = Date.now() + 8 * 3_600_000;
    const end = Date.now() + 25 * DAY;
    const file = path.join(t.claudeDir, ".credentials.json");
    const text = cli2_1_332File({ accessToken, refreshToken, expiresAt, end });
    writeFileSync(file, text, { mode: 0o600 });
    const before = statSync(file);
    const c = await readClaudeCliFile(file);
    assert.equal(c.accessToken, accessToken);
    assert.equal(c.refreshToken, refreshToken);
    assert.equal(c.expiresAt, expiresAt);
    assert.equal(c.loginEndsAt, end);
    // Nothing of the keys we do not use comes along (a token in hybridOauth least of all); the account id is a hint
    // of who the login is, for recovering a failed refresh fence.
    assert.deepEqual(Object.keys(c).sort(), [
      "accessToken",
      "accountUuid",
      "expiresAt",
      "loginEndsAt",
      "origin",
      "refreshToken",
      "subscriptionType",
    ]);
    const after = statSync(file);
    assert.equal(readFileSync(file, "utf8"), text, "read only: byte for byte as claude wrote it");
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.ino, before.ino);
  }));

test("a file without refreshTokenExpiresAt (or with null) reads as before: no end", () => {
  const parsed = (end: unknown) =>
    parseClaudeCredentials(
      cli2_1_332File({ accessToken: "a", refreshToken: "r", expiresAt: 1_800_000_000_000, end }),
      "f",
      1_790_000_000_000,
    );
  for (const c of [parsed(undefined), parsed(null)]) {
    assert.equal(c.loginEndsAt, undefined);
    assert.equal("loginEndsAt" in c, false, "absent, not undefined: the credential is as it was");
  }
});

test("a refreshTokenExpiresAt Claude Code would disregard is no end, as the CLI treats it; the login still reads", () => {
  const now = Date.UTC(2026, 9, 1);
  const token = randomToken();
  const file = (end: unknown, expiresAt = now + 1) =>
    cli2_1_332File({ accessToken: token, refreshToken: "r", expiresAt, end });
  const disregarded: unknown[] = [
    "soon",
    1.5e12 + 0.5,
    -1,
    Math.round(now / 1000) + 30 * 86_400, // seconds
    Date.UTC(2024, 5, 1), // before 2025
    now + 3651 * DAY, // more than ten years ahead
    1e300,
    { at: now },
  ];
  for (const end of disregarded) {
    const c = parseClaudeCredentials(file(end), "f", now);
    assert.equal(c.accessToken, token, String(end));
    assert.equal("loginEndsAt" in c, false, String(end));
  }
  // An access token that outlives the end by more than three days: the CLI disregards the end.
  assert.equal("loginEndsAt" in parseClaudeCredentials(file(now + DAY, now + 5 * DAY), "f", now), false);
  assert.equal(parseClaudeCredentials(file(now + DAY, now + 3 * DAY), "f", now).loginEndsAt, now + DAY);
  // Claude Code's own bounds hold: from 2025-01-01 to ten years ahead.
  const first = Date.UTC(2025, 0, 1);
  assert.equal(parseClaudeCredentials(file(first, first), "f", now).loginEndsAt, first);
  assert.equal(parseClaudeCredentials(file(now + 3650 * DAY), "f", now).loginEndsAt, now + 3650 * DAY);
});
