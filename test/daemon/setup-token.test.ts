import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken, runCli } from "../helpers/env.js";

test("daemon: a token set while it runs reaches every agent, including one created later; a login failure never marks it", async () => {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  const d = new DaemonProcess(t);
  try {
    t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    mkdirSync(t.agentDir("work"), { recursive: true });
    await d.waitForEvent("daemon.ready");
    const token = randomToken();
    t.planted.push(token);
    const set = await runCli(["token", "set"], t.env, { input: token });
    assert.match(set.stdout, new RegExp(`the running daemon \\(pid ${d.child.pid}\\) copies it into every agent now`));
    await d.waitFor((r) => r.event === "sync.written" && r.agent === "work" && r.profile === "anthropic:manual");
    mkdirSync(t.agentDir("later"), { recursive: true });
    await d.waitFor((r) => r.event === "sync.written" && r.agent === "later" && r.profile === "anthropic:manual");
    assert.equal(t.readStore("later").profiles["anthropic:manual"].token, token);
    await d.waitForEvent("needs_login");
    for (const agent of ["main", "work"]) {
      const stats = t.readStore(agent).usageStats ?? {};
      assert.equal(stats["anthropic:claude-cli"].disabledReason, "auth");
      assert.equal(stats["anthropic:manual"], undefined, "the setup-token profile is never marked");
    }
  } finally {
    await d.stop();
    const leaks = leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]);
    t.cleanup();
    assert.deepEqual(leaks, []);
  }
});
