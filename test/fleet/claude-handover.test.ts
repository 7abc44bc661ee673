/**
 * The fleet's newest credentials go into claude's own file under claude's own locks (claude-handover.ts), as the
 * real Claude Code 2.1.332 takes them: never while claude holds its refresh or write lock, never over newer
 * credentials, every other key of the file kept.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmdirSync, statSync, utimesSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { installClaudeOauth, readClaudeOauth } from "../../src/fleet/claude-handover.js";
import { makeHome, randomToken } from "../helpers/env.js";

const newer = () => ({
  accessToken: randomToken("oat"),
  refreshToken: randomToken("ort"),
  expiresAt: Date.now() + 8 * 3_600_000,
  scopes: ["user:inference"],
});

test("handover: installs newer credentials, keeps the file's other keys, 0600; leaves newer or equal ones", async () => {
  const t = makeHome();
  try {
    t.writeCredentials({ expiresAt: Date.now() + 3_600_000, extra: { mcpOAuth: { server: { token: "kept" } } } });
    const fleet = newer();
    assert.equal(await installClaudeOauth(t.claudeDir, fleet), "installed");
    const file = JSON.parse(readFileSync(path.join(t.claudeDir, ".credentials.json"), "utf8"));
    assert.deepEqual(file.claudeAiOauth, fleet);
    assert.deepEqual(file.mcpOAuth, { server: { token: "kept" } });
    assert.equal(statSync(path.join(t.claudeDir, ".credentials.json")).mode & 0o777, 0o600);
    assert.equal(
      await installClaudeOauth(t.claudeDir, { ...newer(), expiresAt: fleet.expiresAt - 1 }),
      "already-newer",
    );
    assert.equal(await installClaudeOauth(t.claudeDir, fleet), "already-newer");
    assert.deepEqual(await readClaudeOauth(t.claudeDir), fleet);
    // Every lock is released.
    for (const lock of [".oauth_refresh.lock", ".storage-write.lock"]) {
      assert.throws(() => statSync(path.join(t.claudeDir, lock)), /ENOENT/);
    }
    assert.throws(() => statSync(`${t.claudeDir}.lock`), /ENOENT/);
  } finally {
    t.cleanup();
  }
});

/** Each of claude's locks in claude's order, and the ones taken before it (ours, while we wait at it). */
const LOCKS = [
  { name: ".oauth_refresh.lock", before: [] },
  { name: "../.claude.lock", before: [".oauth_refresh.lock"] },
  { name: ".storage-write.lock", before: [".oauth_refresh.lock", "../.claude.lock"] },
];

for (const lock of LOCKS) {
  test(`handover: waits while claude holds ${path.basename(lock.name)}, then writes`, async () => {
    const t = makeHome();
    try {
      const before = t.writeCredentials({ expiresAt: Date.now() + 3_600_000 });
      const held = path.join(t.claudeDir, lock.name);
      mkdirSync(held);
      const fleet = newer();
      const install = installClaudeOauth(t.claudeDir, fleet);
      // A positive sign that it reached the held lock: it holds every lock claude takes before that one.
      const exists = (name: string) => statSync(path.join(t.claudeDir, name), { throwIfNoEntry: false }) !== undefined;
      while (!lock.before.every(exists)) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal((await readClaudeOauth(t.claudeDir))?.accessToken, before.accessToken, "claude's file untouched");
      rmdirSync(held);
      assert.equal(await install, "installed");
      assert.equal((await readClaudeOauth(t.claudeDir))?.accessToken, fleet.accessToken);
    } finally {
      t.cleanup();
    }
  });
}

test("handover: a lock claude left behind (older than its 60 s stale time) is taken over", async () => {
  const t = makeHome();
  try {
    t.writeCredentials({ expiresAt: Date.now() + 3_600_000 });
    const held = path.join(t.claudeDir, ".oauth_refresh.lock");
    mkdirSync(held);
    const old = new Date(Date.now() - 120_000);
    utimesSync(held, old, old);
    const fleet = newer();
    assert.equal(await installClaudeOauth(t.claudeDir, fleet), "installed");
    assert.equal((await readClaudeOauth(t.claudeDir))?.accessToken, fleet.accessToken);
  } finally {
    t.cleanup();
  }
});
