/**
 * `remove`, before an uninstall: our profiles out of every agent (JSON and SQLite eras), with their usage stats;
 * the gateway's own tokens and everything else stay; a running daemon is a refusal, since it would write them back.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken, runCli, withHome } from "../helpers/env.js";
import { entriesConfig, readAgentCells, readStateCells, writeAgentDb, writeStateDb } from "../helpers/sqlite-store.js";

const LOGIN = "anthropic:claude-cli";
const token = (secret: string) => ({ type: "token", provider: "anthropic", token: secret });

test("remove: JSON era: the login's and the setup-token's profiles go with their stats; the gateway's stays", () =>
  withHome(async (t) => {
    t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
    const [pasted, setup] = [randomToken(), randomToken()];
    t.planted.push(pasted, setup);
    // The gateway's own token under an id we also store a setup-token under, in work only.
    t.writeStore("work", { version: 1, profiles: { "anthropic:manual": token(pasted) }, lastGood: { x: 1 } });
    const set = ["token", "set", "--profile", "anthropic:setup"];
    assert.equal((await runCli(set, t.env, { input: setup })).code, 0);
    assert.equal((await runCli(["sync", "--no-refresh"], t.env)).code, 0);
    const main = t.readStore("main");
    main.usageStats = { [LOGIN]: { errorCount: 1, lastUsed: 5 }, other: { lastUsed: 7 } };
    t.writeStore("main", main);

    const dry = await runCli(["remove", "--dry-run"], t.env);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /^main +anthropic:claude-cli +would remove/m);
    assert.match(dry.stdout, /^work +anthropic:setup +would remove/m);
    assert.deepEqual(t.readStore("main"), main, "a dry run writes nothing");

    const removed = await runCli(["remove"], t.env);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    assert.deepEqual(t.readStore("main").profiles, {});
    assert.deepEqual(t.readStore("main").usageStats, { other: { lastUsed: 7 } }, "only our profile's stats go");
    const work = t.readStore("work");
    assert.deepEqual(work.profiles, { "anthropic:manual": token(pasted) }, "the gateway's token stays");
    assert.deepEqual(work.lastGood, { x: 1 });
    const again = await runCli(["remove"], t.env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^no agent holds anthropic:claude-cli, anthropic:setup: nothing to remove$/m);
    const output = [dry, removed, again].map((r) => r.stdout + r.stderr).join("");
    assert.deepEqual(leakedTokens(output, t.planted), []);
  }));

test("remove: SQLite era: setup-tokens out of the shared store and an agent's own database; the gateway's stay", () =>
  withHome(async (t) => {
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main", "work"]), null, 2));
    const [shared, own, setup] = [randomToken(), randomToken(), randomToken()];
    t.planted.push(shared, own, setup);
    writeStateDb(t, { store: { version: 1, profiles: { "anthropic:manual": token(shared) } } });
    writeAgentDb(t, "work", { store: { version: 1, profiles: { "anthropic:manual": token(own) } } });
    const set = ["token", "set", "--profile", "anthropic:setup"];
    assert.equal((await runCli(set, t.env, { input: setup })).code, 0);
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.ok(readStateCells(t).store?.profiles && "anthropic:setup" in (readStateCells(t).store!.profiles as object));
    const removed = await runCli(["remove"], t.env);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    assert.deepEqual(readStateCells(t).store?.profiles, { "anthropic:manual": token(shared) });
    assert.deepEqual(readAgentCells(t, "work").store?.profiles, { "anthropic:manual": token(own) });
    assert.deepEqual(leakedTokens(removed.stdout + removed.stderr, t.planted), []);
  }));

test("remove: a running daemon is a refusal naming its pid", async () => {
  const t = makeHome();
  installFakeClaude(t);
  t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
  const daemon = new DaemonProcess(t);
  try {
    await daemon.waitForEvent("daemon.ready", 60_000);
    const r = await runCli(["remove"], t.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`the daemon \\(pid ${daemon.child.pid}\\) would write them back at once`));
  } finally {
    await daemon.stop();
    t.cleanup();
  }
});
