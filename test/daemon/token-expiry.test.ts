/** The daemon's setup-token expiry alerts: token.expiring and token.expired, with onEvent, at most once a day. */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { TOKEN_ALERT_EVERY_MS, TokenExpiryAlerts } from "../../src/daemon/token-expiry.js";
import { type Offer, setupTokenProfile } from "../../src/reconcile/offer.js";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { type TestHome, leakedTokens, makeHome, randomToken, runCli } from "../helpers/env.js";
import { writeVault } from "../helpers/vault.js";

const DAY = 86_400_000;
const ID = "anthropic:manual";

/** A hook that appends EVENT|PROFILE|REASON|AGENTS to a file. */
function installHook(t: TestHome): { config: string; out: string } {
  const out = path.join(t.root, "hook.log");
  const hook = path.join(t.root, "hook.sh");
  writeFileSync(hook, `#!/bin/sh\necho "$EVENT|$PROFILE|$REASON|$AGENTS" >> "${out}"\n`, { mode: 0o755 });
  const config = path.join(t.root, "config.json");
  writeFileSync(config, JSON.stringify({ onEvent: [hook], logLevel: "debug" }));
  return { config, out };
}

async function hookLines(file: string, pattern: RegExp): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    try {
      const lines = readFileSync(file, "utf8").trim().split("\n");
      if (lines.some((l) => pattern.test(l))) return lines;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${file} never matched ${pattern}`);
}

test("TokenExpiryAlerts: says each due alert once a day, again when the state or the token changes", () => {
  const said: string[] = [];
  const hooked: string[] = [];
  const alerts = new TokenExpiryAlerts(
    (_level, event, _msg, fields) => said.push(`${event} ${String(fields.profile)}`),
    (event, facts) => hooked.push(`${event} ${facts.profile} ${facts.agents.map((a) => a.agent).join(",")}`),
  );
  const offer = (expires: number | undefined): Offer => ({
    kind: "setup-token",
    profileId: ID,
    profile: setupTokenProfile("unused", expires),
    origin: "test",
  });
  const now = 1_000 * DAY;
  alerts.check([offer(now + 40 * DAY)], [{ agent: "main" }], now);
  assert.deepEqual(said, [], "40 days ahead is quiet");
  alerts.check([offer(now + 10 * DAY)], [{ agent: "main" }], now);
  alerts.check([offer(now + 10 * DAY)], [{ agent: "main" }], now + 5 * 60_000);
  alerts.check([offer(now + 10 * DAY)], [{ agent: "main" }], now + TOKEN_ALERT_EVERY_MS - 1);
  assert.deepEqual(said, [`token.expiring ${ID}`], "once, not on every pass");
  alerts.check([offer(now + 10 * DAY)], [{ agent: "main" }], now + TOKEN_ALERT_EVERY_MS);
  assert.equal(said.length, 2, "again a day later");
  alerts.check([offer(now + 10 * DAY)], [{ agent: "main" }, { agent: "work" }], now + 10 * DAY);
  assert.deepEqual(said.at(-1), `token.expired ${ID}`, "expired moves on at once");
  alerts.check([offer(now + 10 * DAY)], [{ agent: "main" }, { agent: "work" }], now + 10 * DAY + 60_000);
  assert.equal(said.length, 3);
  alerts.check([offer(now + 20 * DAY)], [{ agent: "main" }, { agent: "work" }], now + 10 * DAY + 120_000);
  assert.deepEqual(said.at(-1), `token.expiring ${ID}`, "a replacement that is itself near its end is said at once");
  alerts.check([offer(undefined)], [{ agent: "main" }], now + 11 * DAY);
  assert.equal(said.length, 4, "an unknown expiry says nothing");
  assert.deepEqual(hooked, [
    `token.expiring ${ID} main`,
    `token.expiring ${ID} main`,
    `token.expired ${ID} main,work`,
    `token.expiring ${ID} main,work`,
  ]);
});

test("daemon: a setup-token stored 366 days ago logs token.expired once and runs onEvent; status exits 1", async () => {
  const t = makeHome();
  const control = installFakeClaude(t);
  const { config, out } = installHook(t);
  t.writeCredentials();
  mkdirSync(t.agentDir("work"), { recursive: true });
  const token = randomToken();
  t.planted.push(token);
  const savedAt = Date.now() - 366 * DAY;
  writeVault(t, { [ID]: { token, savedAt } });
  const d = new DaemonProcess(t, ["--config", config]);
  try {
    const expired = await d.waitForEvent("token.expired");
    assert.equal(expired.level, "error");
    assert.equal(expired.profile, ID);
    assert.equal(expired.expires, savedAt + 365 * DAY);
    assert.match(String(expired.msg), /^setup-token anthropic:manual expired 1d ago \(.* UTC\); the gateway no longer/);
    assert.match(String(expired.msg), /Fix: run `claude setup-token`, then `moltbot-auth-sync token set --profile /);
    const lines = await hookLines(out, /^token\.expired\|/);
    const fields = lines.find((l) => l.startsWith("token.expired|"))!.split("|");
    assert.equal(fields[1], ID);
    assert.match(fields[2]!, /^setup-token anthropic:manual expired 1d ago/);
    assert.deepEqual(fields[3]!.split(",").sort(), ["main", "work"]);
    for (const agent of ["main", "work"]) assert.equal(t.readStore(agent).profiles[ID].expires, savedAt + 365 * DAY);
    // More passes (a SIGHUP runs a full one, a new agent one more) say nothing more the same day.
    const from = d.records.length;
    d.child.kill("SIGHUP");
    await d.waitForEvent("daemon.reloaded", 10_000, from);
    mkdirSync(t.agentDir("later"), { recursive: true });
    const later = await d.waitFor(
      (r) => r.event === "sync.written" && r.agent === "later" && r.profile === ID,
      10_000,
      from,
    );
    await d.waitForIdle(d.records.indexOf(later));
    assert.equal(d.events("token.expired").length, 1);
    const status = await runCli(["--config", config, "status"], t.env);
    assert.equal(status.code, 1, status.stdout + status.stderr);
    assert.match(status.stderr, /setup-token anthropic:manual expired 1d ago/);
    assert.deepEqual(leakedTokens(status.stdout + status.stderr + readFileSync(out, "utf8"), t.planted), []);
  } finally {
    await d.stop();
    const leaks = leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]);
    t.cleanup();
    assert.deepEqual(leaks, []);
  }
});

test("daemon: token set on the same id replaces it in every agent in one pass (SIGHUP); token.expiring", async () => {
  const t = makeHome();
  const control = installFakeClaude(t);
  const { config, out } = installHook(t);
  t.writeCredentials();
  for (const agent of ["work", "ops"]) mkdirSync(t.agentDir(agent), { recursive: true });
  const first = randomToken();
  const second = randomToken();
  t.planted.push(first, second);
  assert.equal((await runCli(["--config", config, "token", "set"], t.env, { input: first })).code, 0);
  const d = new DaemonProcess(t, ["--config", config]);
  try {
    await d.waitForEvent("daemon.ready");
    for (const agent of ["main", "work", "ops"]) assert.equal(t.readStore(agent).profiles[ID].token, first);
    assert.equal(d.events("token.expiring").length, 0, "a year ahead is quiet");
    const from = d.records.length;
    // The new token expires sooner than the one the agents hold: it replaces it all the same.
    const set = await runCli(["--config", config, "token", "set", "--expires-in", "10d"], t.env, { input: second });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, new RegExp(`the running daemon \\(pid ${d.child.pid}\\) copies it into every agent now`));
    const reloaded = await d.waitForEvent("daemon.reloaded", 10_000, from);
    const expiring = await d.waitForEvent("token.expiring", 10_000, from);
    // One pass wrote every agent: all three writes come after the reload and before the alert of that pass.
    const written = d.records
      .slice(d.records.indexOf(reloaded), d.records.indexOf(expiring))
      .filter((r) => r.event === "sync.written" && r.profile === ID)
      .map((r) => r.agent)
      .sort();
    assert.deepEqual(written, ["main", "ops", "work"]);
    for (const agent of ["main", "work", "ops"]) {
      const profile = t.readStore(agent).profiles[ID];
      assert.equal(profile.token, second);
      assert.ok(Math.abs(profile.expires - (Date.now() + 10 * DAY)) < 60_000);
    }
    assert.equal(expiring.level, "warn");
    assert.match(String(expiring.msg), /^setup-token anthropic:manual expires in (?:10d|9d23h) \(/);
    const lines = await hookLines(out, /^token\.expiring\|/);
    const fields = lines.find((l) => l.startsWith("token.expiring|"))!.split("|");
    assert.equal(fields[1], ID);
    assert.deepEqual(fields[3]!.split(",").sort(), ["main", "ops", "work"]);
    assert.deepEqual(leakedTokens(set.stdout + set.stderr + readFileSync(out, "utf8"), t.planted), []);
  } finally {
    await d.stop();
    const leaks = leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]);
    t.cleanup();
    assert.deepEqual(leaks, []);
  }
});
