/**
 * The daemon and refresh fences: a failed fence provably the login's is recovered on the first pass and kept fresh
 * after the next rotation; one nothing proves is logged once and left as it is; a pending one is left alone.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken } from "../helpers/env.js";
import { fenced } from "../helpers/fence.js";
import { entriesConfig, readStateCells, writeStateDb } from "../helpers/sqlite-store.js";

type Json = Record<string, unknown>;
const oauth = (refresh: string) => ({
  type: "oauth",
  provider: "anthropic",
  access: randomToken(),
  refresh,
  expires: Date.now() + 3_600_000,
});

test("daemon: recovers a failed fence of the login's refresh token, keeps it fresh, logs an unproven one once", async () => {
  const t = makeHome();
  const control = installFakeClaude(t, "refresh");
  const cred = t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
  const pending = fenced("anthropic:busy", oauth(randomToken("ort")), "pending");
  const unproven = fenced("anthropic:other", oauth(randomToken("ort")), "failed");
  const profiles = {
    "anthropic:mine": fenced("anthropic:mine", oauth(cred.refreshToken), "failed"),
    "anthropic:other": unproven,
    "anthropic:busy": pending,
  };
  const busyStats = { cooldownUntil: Date.now() + 600_000, errorCount: 2 };
  writeStateDb(t, {
    store: { version: 1, profiles },
    state: { version: 1, usageStats: { "anthropic:busy": busyStats } },
  });
  const never = "0 0 1 1 *";
  writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ logLevel: "debug", resyncCron: never }));
  const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
  try {
    const recovered = await d.waitForEvent("fence.recovered", 30_000);
    assert.equal(recovered.profile, "anthropic:mine");
    assert.match(String(recovered.msg), /proven by its refresh token/);
    const failed = await d.waitForEvent("fence.failed", 30_000);
    assert.equal(failed.profile, "anthropic:other");
    assert.match(String(failed.msg), /moltbot-auth-sync recover --agent main --profile anthropic:other/);
    await d.waitForEvent("fence.pending", 30_000);
    const stored = () => readStateCells(t).store?.profiles as Record<string, Json>;
    assert.equal(stored()["anthropic:mine"]!.token, cred.accessToken);
    assert.deepEqual(stored()["anthropic:other"], unproven);
    assert.deepEqual(stored()["anthropic:busy"], pending);
    // claude rotates: the next pass keeps the recovered profile in step, and says nothing new of the other.
    const next = t.writeCredentials({ expiresAt: Date.now() + 7 * 3_600_000 });
    await d.waitFor((r) => r.event === "sync.written" && r.profile === "anthropic:mine", 30_000);
    assert.equal(stored()["anthropic:mine"]!.token, next.accessToken);
    assert.equal(d.events("fence.failed").length, 1);
    assert.deepEqual(stored()["anthropic:busy"], pending);
    assert.deepEqual((readStateCells(t).state?.usageStats as Record<string, Json>)["anthropic:busy"], busyStats);
  } finally {
    await d.stop();
  }
  assert.deepEqual(leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]), []);
  t.cleanup();
});
