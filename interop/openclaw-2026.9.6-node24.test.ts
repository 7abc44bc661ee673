/**
 * Our CLI and daemon under the gateway's own Node 24, where SQLite is `node:sqlite` (driver.ts), against the real
 * openclaw@2026.9.6: the same bytes in its databases as better-sqlite3 writes under this Node 20, and the
 * gateway's `models status --json` as the judge.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { DaemonProcess } from "../test/helpers/daemon.js";
import { leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../test/helpers/env.js";
import { agentDbPath, cellTexts, stateDbPath } from "../test/helpers/sqlite-store.js";
import { type Gateway, installGateway, modelsStatus } from "./gateway.js";
import { gatewayStateDir, registerProfiles } from "./sqlite-gateway.js";

let gateway: Gateway;
before(() => {
  gateway = installGateway("2026.9.6");
});

const TIMEOUT = { timeout: 600_000 };
const VAULT = [".config", "moltbot-auth-sync", "setup-tokens.json"];
const stores = (t: TestHome) => ({ state: cellTexts(stateDbPath(t)), work: cellTexts(agentDbPath(t, "work")) });
const listed = async (t: TestHome, agent: string) => {
  const status = await modelsStatus(gateway, t.stateDir, t.home, agent);
  const profiles = status.auth.oauth.profiles as Array<{ profileId: string; status: string }>;
  return profiles.map((p) => `${p.profileId} ${p.status}`).sort();
};

test("openclaw@2026.9.6 under Node 24: node:sqlite writes the bytes better-sqlite3 writes", TIMEOUT, async () => {
  const [node20, node24] = [makeHome(), makeHome()];
  try {
    // Two state dirs alike, made by the gateway with the same pasted tokens, and one vault copied to both.
    const tokens = { shared: randomToken(), work: randomToken() };
    for (const t of [node20, node24]) {
      await gatewayStateDir(gateway, t, { ...tokens });
      registerProfiles(t, ["anthropic:setup"]);
    }
    const setup = randomToken();
    node20.planted.push(setup);
    const set = await runCli(["token", "set", "--profile", "anthropic:setup"], node20.env, { input: setup });
    assert.equal(set.code, 0, set.stderr);
    mkdirSync(path.join(node24.home, ...VAULT.slice(0, -1)), { recursive: true, mode: 0o700 });
    copyFileSync(path.join(node20.home, ...VAULT), path.join(node24.home, ...VAULT));
    assert.deepEqual(stores(node24), stores(node20), "the gateway made both alike");

    const doctor = await runCli(["doctor"], node24.env, { node: gateway.node });
    assert.match(doctor.stdout, /sqlite engine +node:sqlite \(SQLite built into Node 24\./);
    const ours = await runCli(["doctor"], node20.env);
    assert.match(
      ours.stdout,
      /sqlite engine +better-sqlite3 12\.\d+\.\d+, because Node 20\.\d+\.\d+ has no node:sqlite/,
    );
    const results = [await runCli(["sync"], node20.env), await runCli(["sync"], node24.env, { node: gateway.node })];
    for (const r of results) assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(stores(node24), stores(node20), "the same bytes in every cell of both databases");
    assert.notDeepEqual(stores(node24).state, {}, "something was written");
    for (const agent of ["main", "work"]) {
      assert.ok((await listed(node24, agent)).includes("anthropic:setup ok"), `${agent} sees the setup-token`);
    }
    const output = [...results, doctor].map((r) => r.stdout + r.stderr).join("");
    assert.deepEqual(leakedTokens(output, [...node20.planted, ...node24.planted]), []);
  } finally {
    node20.cleanup();
    node24.cleanup();
  }
});

test("openclaw@2026.9.6 under Node 24: the daemon serves the SQLite stores through node:sqlite", TIMEOUT, async () => {
  const t = makeHome();
  try {
    await gatewayStateDir(gateway, t);
    registerProfiles(t, ["anthropic:setup"]);
    const setup = randomToken();
    t.planted.push(setup);
    assert.equal((await runCli(["token", "set", "--profile", "anthropic:setup"], t.env, { input: setup })).code, 0);
    const daemon = new DaemonProcess(t, [], { node: gateway.node });
    try {
      await daemon.waitForEvent("daemon.ready", 60_000);
      await daemon.waitFor((r) => r.event === "sync.written" && r.agent === "work", 60_000);
    } finally {
      await daemon.stop();
    }
    for (const agent of ["main", "work"]) {
      assert.ok((await listed(t, agent)).includes("anthropic:setup ok"), `${agent} sees the setup-token`);
    }
    assert.deepEqual(leakedTokens(daemon.stdout + daemon.stderr, t.planted), []);
  } finally {
    t.cleanup();
  }
});
