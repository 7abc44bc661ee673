import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { MAX_DIGESTS, RecoveryBook, noted, parseRecoveryState } from "../../src/pass/recovery-book.js";
import { readLoginAccount } from "../../src/sources/claude-account.js";
import { parseConfig } from "../../src/config/config.js";
import { withHome } from "../helpers/env.js";

const digest = (n: number) => n.toString(16).padStart(64, "0");
const entry = (profileId: string, login = "anthropic:claude-cli") => ({ stateDir: "/s", profileId, login, at: 1 });

test("the record: a corrupt or odd file reads as what it validly holds; digests are capped, newest kept", () => {
  assert.deepEqual(parseRecoveryState("not json"), { recovered: [], refreshDigests: [] });
  const odd = { recovered: [entry("anthropic:a"), { profileId: 3 }], refreshDigests: [digest(1), "x", 5] };
  assert.deepEqual(parseRecoveryState(JSON.stringify(odd)), {
    recovered: [entry("anthropic:a")],
    refreshDigests: [digest(1)],
  });
  const many = Array.from({ length: MAX_DIGESTS + 10 }, (_, i) => digest(i));
  const state = noted({ recovered: [], refreshDigests: [] }, many, []);
  assert.equal(state.refreshDigests.length, MAX_DIGESTS);
  assert.equal(state.refreshDigests.at(-1), digest(MAX_DIGESTS + 9));
  // A digest seen again moves to the newest end; an entry recovered again keeps its time; released ones go.
  const before = { recovered: [entry("anthropic:a"), entry("anthropic:b")], refreshDigests: [digest(1), digest(2)] };
  const after = noted(
    before,
    [digest(1)],
    [
      { ...entry("anthropic:a"), at: 9 },
      { ...entry("anthropic:c"), at: 9 },
    ],
    [{ stateDir: "/s", profileId: "anthropic:b" }],
  );
  assert.deepEqual(after, {
    recovered: [entry("anthropic:a"), { ...entry("anthropic:c"), at: 9 }],
    refreshDigests: [digest(2), digest(1)],
  });
});

test("the record is written 0600 only when something is new, and never holds a token", () =>
  withHome(async (t) => {
    const file = path.join(t.home, ".local", "state", "moltbot-auth-sync", "recovery.json");
    const book = new RecoveryBook(file, 5_000);
    assert.deepEqual(await book.read(), { recovered: [], refreshDigests: [] });
    await book.note([], []);
    await book.note([digest(7)], [entry("anthropic:a")]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const mtime = statSync(file).mtimeMs;
    await book.note([digest(7)], [{ ...entry("anthropic:a"), at: 5 }]);
    assert.equal(statSync(file).mtimeMs, mtime, "nothing new: not rewritten");
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")).refreshDigests, [digest(7)]);
  }));

test("the login's account: the credentials' accountUuid, then .claude.json's oauthAccount, which names it", () =>
  withHome(async (t) => {
    const config = parseConfig({}, "test");
    const login = { origin: "x", accessToken: "a", expiresAt: 1 };
    assert.deepEqual(await readLoginAccount(config, login, t.env), {});
    const global = path.join(t.home, ".claude.json");
    writeFileSync(global, JSON.stringify({ oauthAccount: { accountUuid: "u-1", emailAddress: " me@example.com " } }));
    assert.deepEqual(await readLoginAccount(config, login, t.env), { accountUuid: "u-1", email: "me@example.com" });
    // Another sign-in's record says nothing of this login's email.
    assert.deepEqual(await readLoginAccount(config, { ...login, accountUuid: "u-2" }, t.env), { accountUuid: "u-2" });
    const dir = path.join(t.root, "other");
    assert.deepEqual(await readLoginAccount(parseConfig({ claudeConfigDir: dir }, "test"), login, t.env), {});
    writeFileSync(global, "{ truncated");
    assert.deepEqual(await readLoginAccount(config, login, t.env), {});
  }));
