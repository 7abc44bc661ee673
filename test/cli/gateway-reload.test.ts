/**
 * After our writes into SQLite-era stores, a running gateway is told to re-read them (it keeps them in memory):
 * `sync` and `cooldown clear` through the real CLI against a stand-in gateway on 127.0.0.1 (test/helpers/
 * fake-gateway.ts); `status` says so while a gateway that could not be told still runs. The interop suite
 * shows the same with the real gateway and real turns (interop/openclaw-2026.9.6-turns.test.ts).
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { leakedTokens, randomToken, runCli, withHome, type TestHome } from "../helpers/env.js";
import { type FakeGateway, startFakeGateway } from "../helpers/fake-gateway.js";
import { entriesConfig, writeAgentDb, writeStateDb } from "../helpers/sqlite-store.js";
import { gatewayLockFile } from "../../src/stores/sqlite/gateway-instance.js";

const GATEWAY_TOKEN = "gw-0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const token = (secret: string) => ({ type: "token", provider: "anthropic", token: secret });

/** main on the shared store, work on its own database; the gateway config names `gateway`'s port and token. */
function twoAgents(t: TestHome, gateway: FakeGateway, auth: Record<string, unknown> = { token: GATEWAY_TOKEN }) {
  const config = { ...entriesConfig(t, ["main", "work"]), gateway: { mode: "local", port: gateway.port, auth } };
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(config, null, 2));
  const manual = () => ({ version: 1, profiles: { "anthropic:manual": token(randomToken()) } });
  writeStateDb(t, { store: manual() });
  writeAgentDb(t, "work", { store: manual() });
}

/** The gateway's lock as a running gateway holds it: a live pid (ours) and the owner id of this start. */
function gatewayRuns(t: TestHome, ownerId: string): void {
  const file = gatewayLockFile(t.stateDir);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ pid: process.pid, ownerId, port: 1, stateDir: t.stateDir }));
}

/** Over the gateway's own anthropic:manual in every agent: replacing it is what these tests are about. */
const tokenSet = (t: TestHome, secret: string) =>
  runCli(["token", "set", "--profile", "anthropic:manual", "--replace"], t.env, { input: secret });

test("sync tells the running gateway once per agent it changed, as the gateway's CLI does, and says nothing", () =>
  withHome(async (t) => {
    const gateway = await startFakeGateway({ token: GATEWAY_TOKEN });
    try {
      twoAgents(t, gateway);
      const setup = randomToken();
      t.planted.push(setup, GATEWAY_TOKEN);
      assert.equal((await tokenSet(t, setup)).code, 0);
      const r = await runCli(["sync"], t.env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /main +written/);
      assert.match(r.stdout, /work +written/);
      assert.doesNotMatch(r.stderr, /gateway/);
      assert.deepEqual(gateway.requests, [
        { method: "models.authRefresh", params: { operation: "login", agentId: "main" } },
        { method: "models.authRefresh", params: { operation: "login", agentId: "work" } },
      ]);
      assert.equal(gateway.connections, 1, "one connection for the whole pass");
      // Nothing written, nothing to tell.
      const again = await runCli(["sync", "--json"], t.env);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(gateway.requests.length, 2);
      assert.equal(JSON.parse(again.stdout).reloads, undefined);
      assert.deepEqual(leakedTokens(r.stdout + r.stderr + again.stdout + again.stderr, t.planted), []);
    } finally {
      await gateway.close();
    }
  }));

test("cooldown clear tells the running gateway of each agent it cleared, as an update", () =>
  withHome(async (t) => {
    const gateway = await startFakeGateway({ token: GATEWAY_TOKEN });
    try {
      twoAgents(t, gateway);
      const usageStats = {
        "anthropic:manual": { cooldownUntil: Date.now() + 3_600_000, cooldownReason: "rate_limit" },
      };
      writeStateDb(t, { state: { version: 1, usageStats } });
      const r = await runCli(["cooldown", "clear", "--profile", "anthropic:manual", "--json"], t.env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(gateway.requests, [
        { method: "models.authRefresh", params: { operation: "update", agentId: "main" } },
      ]);
      const [report] = JSON.parse(r.stdout).reloads;
      assert.deepEqual(report.reload, { dir: t.stateDir, result: "reloaded", agents: ["main"] });
    } finally {
      await gateway.close();
    }
  }));

test("a gateway that refuses us: the write stands; sync and status say so in one line while it runs", () =>
  withHome(async (t) => {
    const gateway = await startFakeGateway({ token: "the-gateway-was-started-with-another" });
    try {
      twoAgents(t, gateway);
      gatewayRuns(t, "first-start");
      const setup = randomToken();
      t.planted.push(setup, GATEWAY_TOKEN);
      assert.equal((await tokenSet(t, setup)).code, 0);
      const r = await runCli(["sync"], t.env);
      assert.equal(r.code, 0, "the write stands: " + r.stdout + r.stderr);
      assert.match(r.stdout, /main +written/);
      const warning = r.stderr.split("\n").filter((l) => /gateway/.test(l));
      assert.equal(warning.length, 1, r.stderr);
      assert.match(
        warning[0]!,
        /^warning: the running gateway has not picked up what was written for main, work \(the gateway at 127\.0\.0\.1:\d+: it refused the connection: INVALID_REQUEST unauthorized: gateway token mismatch .*\); run `openclaw gateway restart` to apply it$/,
      );
      let status = await runCli(["status"], t.env);
      assert.equal(status.code, 2, status.stdout + status.stderr);
      const stale = status.stdout.split("\n").filter((l) => l.startsWith("stale"));
      assert.equal(stale.length, 1, status.stdout);
      assert.match(stale[0]!, /written for main, work \S+ ago \(.*\); run `openclaw gateway restart` to apply it$/);
      const json = JSON.parse((await runCli(["status", "--json"], t.env)).stdout);
      assert.equal(json.exitCode, 2);
      assert.deepEqual(json.staleGateways[0].agents, ["main", "work"]);
      // Restarted: the new gateway read the stores as they are; nothing is stale any more.
      gatewayRuns(t, "second-start");
      status = await runCli(["status"], t.env);
      assert.equal(status.code, 0, status.stdout + status.stderr);
      assert.doesNotMatch(status.stdout, /^stale/m);
      assert.deepEqual(leakedTokens(r.stdout + r.stderr + status.stdout + status.stderr, t.planted), []);
    } finally {
      await gateway.close();
    }
  }));

test("a later reload that reaches the gateway ends what status says", () =>
  withHome(async (t) => {
    const gateway = await startFakeGateway({ token: GATEWAY_TOKEN });
    try {
      twoAgents(t, gateway, { token: "${UNSET_GATEWAY_TOKEN}" });
      gatewayRuns(t, "only-start");
      assert.equal((await tokenSet(t, randomToken())).code, 0);
      const r = await runCli(["sync"], t.env);
      assert.match(r.stderr, /cannot be told: neither gateway\.auth\.token nor OPENCLAW_GATEWAY_TOKEN is set here/);
      assert.equal((await runCli(["status"], t.env)).code, 2);
      const told = await runCli(["sync"], { ...t.env, OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN });
      assert.doesNotMatch(told.stderr, /gateway/);
      // That sync had nothing to write: the next write is told, and ends the record.
      assert.equal((await tokenSet(t, randomToken())).code, 0);
      const next = await runCli(["sync"], { ...t.env, OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN });
      assert.doesNotMatch(next.stderr, /gateway/);
      const status = await runCli(["status"], t.env);
      assert.equal(status.code, 0, status.stdout + status.stderr);
    } finally {
      await gateway.close();
    }
  }));

test("reloadGateway false: nothing is dialled", () =>
  withHome(async (t) => {
    const gateway = await startFakeGateway({ token: GATEWAY_TOKEN });
    try {
      twoAgents(t, gateway);
      const config = path.join(t.root, "config.json");
      writeFileSync(config, JSON.stringify({ reloadGateway: false }));
      assert.equal((await tokenSet(t, randomToken())).code, 0);
      const r = await runCli(["--config", config, "sync"], t.env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(gateway.connections, 0);
    } finally {
      await gateway.close();
    }
  }));
