/**
 * The daemon on a SQLite-era state dir: it keeps the native login alive, marks the opt-in token profile when
 * the login is dead, and clears that marking on recovery, in the shared store's state row.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken } from "../helpers/env.js";
import { allCellText, entriesConfig, readStateCells, stateDbPath, writeStateDb } from "../helpers/sqlite-store.js";

const MINE = "anthropic:login";

test("daemon, SQLite era: a dead login disables the opt-in token profile; recovery clears it", async () => {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  const cred = t.writeCredentials({ expiresAt: Date.now() + 60_000 });
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
  const otherUntil = Date.now() + 45 * 60_000;
  const other = { cooldownUntil: otherUntil, cooldownReason: "rate_limit" };
  writeStateDb(t, {
    store: {
      version: 1,
      profiles: {
        [MINE]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt },
        "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() },
      },
    },
    state: { version: 1, usageStats: { "anthropic:manual": other } },
  });
  const config = { profileId: MINE, credentialType: "token", refreshTimeout: "1s" };
  writeFileSync(path.join(t.root, "config.json"), JSON.stringify(config));
  const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
  try {
    await d.waitForEvent("needs_login", 30_000);
    const dead = (readStateCells(t).state?.usageStats as Record<string, Record<string, unknown>>)[MINE]!;
    assert.equal(dead.disabledReason, "auth_permanent");
    assert.ok((dead.disabledUntil as number) > Date.now());
    t.writeCredentials();
    await d.waitForEvent("recovered", 30_000);
    const stats = readStateCells(t).state?.usageStats as Record<string, Record<string, unknown>>;
    assert.equal(stats[MINE]!.disabledUntil, undefined);
    assert.deepEqual(stats["anthropic:manual"], other);
  } finally {
    await d.stop();
  }
  const text = allCellText([stateDbPath(t)]);
  assert.doesNotMatch(text, /sk-ant-ort01|\\"refresh\\"|anthropic:claude-cli/);
  assert.deepEqual(leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]), []);
  t.cleanup();
});
