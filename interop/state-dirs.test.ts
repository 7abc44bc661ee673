/**
 * One host, two real gateways (config `stateDirs`): openclaw@2026.1.30 (JSON era) and openclaw@2026.9.6 (SQLite
 * era), each with a state dir its own commands made, plus a third state dir whose volume is not there. One `sync`
 * and one daemon serve both at once, each by its generation's rules, and each gateway's own
 * `models status --json` is the judge.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../test/helpers/daemon.js";
import { gatewayAt, leakedTokens, makeHome, randomToken, runCli } from "../test/helpers/env.js";
import { allCellText, stateDbPath } from "../test/helpers/sqlite-store.js";
import { type Gateway, installGateway, modelsStatus, runGateway } from "./gateway.js";

const ID = "anthropic:claude-cli";
const SETUP = "anthropic:setup";

let jsonGateway: Gateway;
let sqliteGateway: Gateway;
before(() => {
  jsonGateway = installGateway("2026.1.30");
  sqliteGateway = installGateway("2026.9.6");
});

interface Listed {
  profileId: string;
  type: string;
  status: string;
  expiresAt?: number;
}
const listed = (status: any): Listed[] => status.auth.oauth.profiles;
const find = (status: any, id: string) => listed(status).find((p) => p.profileId === id);
const unusable = (status: any): Array<{ profileId: string }> => status.auth.unusableProfiles;

test(
  "stateDirs: one sync and one daemon serve a JSON-era and a SQLite-era gateway at once; a missing one stops neither",
  { timeout: 900_000 },
  async () => {
    const t = makeHome();
    const control = installFakeClaude(t);
    try {
      const json = gatewayAt(t, path.join(t.root, "gw-json"));
      const sqlite = gatewayAt(t, path.join(t.root, "gw-sqlite"));
      const missing = path.join(t.root, "gw-missing");
      for (const g of [json, sqlite]) mkdirSync(g.stateDir);
      // The SQLite-era gateway makes its own state with its own command; the JSON-era one's store is written as
      // that era's interop tests write it (its paste-token prompts on a terminal).
      const [manualJson, manualSqlite] = [randomToken(), randomToken()];
      t.planted.push(manualJson, manualSqlite);
      json.writeStore("main", {
        version: 1,
        profiles: { "anthropic:manual": { type: "token", provider: "anthropic", token: manualJson } },
      });
      const paste = ["models", "auth", "paste-token", "--provider", "anthropic", "--profile-id", "anthropic:manual"];
      await runGateway(sqliteGateway, paste, sqlite.stateDir, t.home, sqliteGateway.entry, `${manualSqlite}\n`);
      assert.ok(existsSync(stateDbPath(sqlite)), "the SQLite-era gateway made its shared database");
      const before = {
        json: await modelsStatus(jsonGateway, json.stateDir, t.home),
        sqlite: await modelsStatus(sqliteGateway, sqlite.stateDir, t.home),
      };

      const config = path.join(t.root, "config.json");
      writeFileSync(config, JSON.stringify({ stateDirs: [json.stateDir, sqlite.stateDir, missing] }));
      const cred = t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
      const setup = randomToken();
      t.planted.push(setup);
      const set = await runCli(["token", "set", "--profile", SETUP, "--config", config], t.env, { input: setup });
      assert.equal(set.code, 0, set.stderr);
      const sync = await runCli(["sync", "--config", config], t.env);
      assert.equal(sync.code, 1, "the missing state dir makes sync exit 1");
      assert.ok(sync.stderr.includes(`state dir ${missing} (from config stateDirs) is not an existing folder`));

      // JSON era: the login's profile and the setup-token, as the gateway itself lists them.
      const jsonAfter = await modelsStatus(jsonGateway, json.stateDir, t.home);
      assert.deepEqual(
        [find(jsonAfter, ID)?.type, find(jsonAfter, ID)?.expiresAt],
        ["token", cred.expiresAt],
        JSON.stringify(listed(jsonAfter)),
      );
      assert.deepEqual([find(jsonAfter, SETUP)?.type, find(jsonAfter, SETUP)?.status], ["token", "ok"]);
      assert.equal(find(jsonAfter, "anthropic:manual")?.status, find(before.json, "anthropic:manual")?.status);
      assert.deepEqual(unusable(jsonAfter), []);
      // SQLite era: the setup-token only; the login is never copied there by default (the gateway reuses it).
      const sqliteAfter = await modelsStatus(sqliteGateway, sqlite.stateDir, t.home);
      assert.deepEqual([find(sqliteAfter, SETUP)?.type, find(sqliteAfter, SETUP)?.status], ["token", "ok"]);
      assert.equal(find(sqliteAfter, ID), undefined, JSON.stringify(listed(sqliteAfter)));
      const others = (s: any) => listed(s).filter((p) => p.profileId !== SETUP);
      assert.deepEqual(others(sqliteAfter), others(before.sqlite), "everything else as the gateway had it");
      assert.deepEqual(unusable(sqliteAfter), unusable(before.sqlite));
      const dbText = allCellText([stateDbPath(sqlite)]);
      assert.doesNotMatch(dbText, /anthropic:claude-cli|sk-ant-ort01|\\"refresh\\"/);
      assert.equal(existsSync(path.join(sqlite.stateDir, "agents", "main", "agent", "auth-profiles.json")), false);

      const status = JSON.parse((await runCli(["status", "--json", "--config", config], t.env)).stdout);
      assert.deepEqual(
        status.gateways.map((g: { store?: { format: string }; error?: string }) => g.store?.format ?? "error"),
        ["json-v1", "sqlite", "error"],
      );

      // One daemon over the same three: a rotated login reaches the JSON-era gateway; the SQLite one is untouched.
      const daemon = new DaemonProcess(t, ["--config", config]);
      try {
        await daemon.waitForEvent("daemon.ready", 60_000);
        const next = t.writeCredentials({ expiresAt: Date.now() + 7 * 3_600_000 });
        await daemon.waitFor((r) => r.event === "sync.written" && r.stateDir === json.stateDir, 30_000);
        const rotated = await modelsStatus(jsonGateway, json.stateDir, t.home);
        assert.equal(find(rotated, ID)?.expiresAt, next.expiresAt);
        const stillMissing = daemon.events("state_dir.missing").map((r) => r.stateDir);
        assert.deepEqual(stillMissing, [missing]);
        assert.equal(find(await modelsStatus(sqliteGateway, sqlite.stateDir, t.home), ID), undefined);
      } finally {
        await daemon.stop();
      }
      const output = sync.stdout + sync.stderr + daemon.stdout + daemon.stderr + JSON.stringify(status);
      assert.deepEqual(leakedTokens(output, [...t.planted, ...fakeClaudeTokens(control)]), []);
    } finally {
      t.cleanup();
    }
  },
);
