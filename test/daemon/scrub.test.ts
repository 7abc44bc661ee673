import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { scrubSecrets, scrubbedTail } from "../../src/log/logger.js";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken, runCli } from "../helpers/env.js";

const ID = "anthropic:claude-cli";

test("scrubSecrets: keyed values in JSON, form and header style, prefixed tokens and long base64url runs", () => {
  const bare = "Q3vX9_a-".repeat(5);
  const planted = [randomToken("ort"), "abcdefgh12345678", "ZYXWVUTS98765432", "tok_0123456789abcdef", bare];
  const text =
    `refresh ${planted[0]} access_token=${planted[1]}&x=1 {"refresh_token": "${planted[2]}"} ` +
    `Authorization: Bearer ${planted[3]} run ${bare}.`;
  const scrubbed = scrubSecrets(text);
  assert.deepEqual(leakedTokens(scrubbed, planted), [], scrubbed);
  assert.match(scrubbed, /sk-ant-ort01-…[A-Za-z0-9_-]{4} /, "a token keeps its fingerprint");
  assert.equal(scrubSecrets(scrubbed), scrubbed, "scrubbing twice changes nothing");
  assert.equal(scrubSecrets("OAuth token refresh failed: invalid_grant"), "OAuth token refresh failed: invalid_grant");
});

test("scrubbedTail scrubs before it cuts: a token across the cut leaves no piece", () => {
  const token = randomToken("ort");
  // The cut leaves 20 characters of the token: too short for the long-run rule, so only the order saves it.
  const text = `${"x ".repeat(50)}${token}${" ".repeat(10)}`;
  const tail = scrubbedTail(text, 30);
  assert.ok(tail.length <= 30);
  assert.deepEqual(leakedTokens(tail, [token]), [], tail);
});

test("claude output with secrets across the 2,000-char tail reaches no log, state, status, logs or hook", async () => {
  const t = makeHome();
  try {
    const control = installFakeClaude(t, "leak");
    const cred = t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const profile = { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt };
    const store = { version: 1, profiles: { [ID]: profile } };
    t.writeStore("main", store);
    const hookOut = path.join(t.root, "hook.log");
    const hook = path.join(t.root, "hook.sh");
    writeFileSync(hook, `#!/bin/sh\necho "$EVENT|$REASON" >> "${hookOut}"\n`, { mode: 0o755 });
    const config = path.join(t.root, "config.json");
    writeFileSync(config, JSON.stringify({ onEvent: [hook] }));
    const d = new DaemonProcess(t, ["--config", config]);
    try {
      const failed = await d.waitForEvent("refresh.failed", 20_000);
      // The message is one line; claude's scrubbed output is in its own field, still showing where secrets were.
      assert.match(String(failed.output), /…/, "the output field still shows where the secrets were");
      await d.waitForEvent("needs_login", 20_000).catch(() => undefined);
      const hookRan = () => readFileSync(hookOut, { encoding: "utf8", flag: "a+" }).includes("refresh.failed");
      for (let i = 0; i < 50 && !hookRan(); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await d.stop();
    }
    const planted = [...t.planted, ...fakeClaudeTokens(control)];
    assert.ok(fakeClaudeTokens(control).length >= 7, "the fake claude planted its secrets");
    const journal = path.join(t.root, "daemon.log");
    writeFileSync(journal, d.stdout);
    const state = readFileSync(path.join(t.home, ".local", "state", "moltbot-auth-sync", "state.json"), "utf8");
    const status = await runCli(["status"], t.env);
    const json = await runCli(["status", "--json"], t.env);
    const logs = await runCli(["logs", "--file", journal], t.env);
    const hookText = readFileSync(hookOut, "utf8");
    assert.match(hookText, /^refresh\.failed\|/m);
    assert.match(status.stdout, /last problem/);
    const outputs = {
      daemon: d.stdout + d.stderr,
      state,
      status: status.stdout + status.stderr,
      json: json.stdout,
      logs: logs.stdout,
      hook: hookText,
    };
    for (const [name, text] of Object.entries(outputs)) {
      assert.deepEqual(leakedTokens(text, planted), [], `${name}:\n${text}`);
    }
  } finally {
    t.cleanup();
  }
});
