/**
 * No SQLite engine loads: this Node has no node:sqlite and better-sqlite3 was built for another Node (Node was
 * upgraded after the install) or never built (npm skipped its script). Every command says so in one line, with
 * what to run, and the JSON era is not touched by it. Run from a copy of the package whose better-sqlite3 throws
 * what the real one throws after a Node upgrade.
 */
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { REPO, randomToken, runCli, withHome, type TestHome } from "../helpers/env.js";
import { entriesConfig, readStateCells, writeAgentDb, writeStateDb } from "../helpers/sqlite-store.js";

const ABI_ERROR =
  "The module '/usr/lib/node_modules/moltbot-auth-sync/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\n" +
  "was compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\n" +
  "NODE_MODULE_VERSION 137. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild`).";

/** Our package in `root`: its own dist and bin, every dependency linked but a better-sqlite3 that fails to load. */
function installWithBrokenEngine(root: string): string {
  for (const part of ["bin", "dist/src", "package.json", "systemd", "launchd"]) {
    cpSync(path.join(REPO, part), path.join(root, part), { recursive: true });
  }
  const modules = path.join(root, "node_modules");
  mkdirSync(modules);
  for (const name of readdirSync(path.join(REPO, "node_modules"))) {
    if (name !== "better-sqlite3" && name !== ".bin")
      symlinkSync(path.join(REPO, "node_modules", name), path.join(modules, name));
  }
  mkdirSync(path.join(modules, "better-sqlite3"));
  writeFileSync(
    path.join(modules, "better-sqlite3", "package.json"),
    JSON.stringify({ name: "better-sqlite3", version: "12.11.1" }),
  );
  writeFileSync(path.join(modules, "better-sqlite3", "index.js"), `throw new Error(${JSON.stringify(ABI_ERROR)});\n`);
  return path.join(root, "bin", "moltbot-auth-sync.js");
}

function sqliteEra(t: TestHome): string {
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main", "work"]), null, 2));
  const manual = randomToken();
  t.planted.push(manual);
  writeStateDb(t, {
    store: { version: 1, profiles: { "anthropic:manual": { type: "token", provider: "anthropic", token: manual } } },
  });
  writeAgentDb(t, "work");
  return manual;
}

test("no SQLite engine: doctor, sync and status say so in one line with what to run; nothing is written", () =>
  withHome(async (t) => {
    if (process.getBuiltinModule?.("node:sqlite")) return; // this Node has its own engine: nothing to prove here
    const bin = installWithBrokenEngine(path.join(t.root, "install"));
    sqliteEra(t);
    const before = readStateCells(t);
    const setup = randomToken();
    t.planted.push(setup);
    assert.equal(
      (await runCli(["token", "set", "--profile", "anthropic:setup"], t.env, { input: setup, bin })).code,
      0,
    );
    const problem =
      /no SQLite engine: Node \d+\.\d+\.\d+ has no node:sqlite, and better-sqlite3 cannot be loaded \(The module '[^\n]*better_sqlite3\.node'\)/;
    const fix = `cd ${path.join(t.root, "install")} && npm rebuild better-sqlite3`;

    const doctor = await runCli(["doctor"], t.env, { bin });
    assert.notEqual(doctor.code, 0);
    const line = doctor.stdout.split("\n").find((l) => l.includes("sqlite engine"));
    assert.match(line ?? "", problem, doctor.stdout);
    assert.ok(doctor.stdout.includes(fix), doctor.stdout);
    assert.doesNotMatch(doctor.stdout, /gateway store/, "no second line of the same cause");

    const sync = await runCli(["sync"], t.env, { bin });
    assert.notEqual(sync.code, 0, sync.stdout);
    assert.match(sync.stdout + sync.stderr, problem);
    assert.ok((sync.stdout + sync.stderr).includes(fix));

    const status = await runCli(["status"], t.env, { bin });
    assert.match(status.stdout, problem);
    for (const r of [doctor, sync, status]) {
      assert.doesNotMatch(r.stdout + r.stderr, /\\n|NODE_MODULE_VERSION 137/, "one line, its first only");
    }
    assert.deepEqual(readStateCells(t), before, "nothing written");
  }));
