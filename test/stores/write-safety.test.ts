/**
 * Writes never follow a planted symlink and never land in another user's tree as root (issue 11, section 5).
 * The root cases run for real when the tests run as root, as in CI, over a tree owned by uid 65534.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync } from "node:fs";
import fs, { rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { readDaemonState, writeDaemonState } from "../../src/runtime/files.js";
import { createFileAtomically, writeFileAtomically } from "../../src/fs/atomic-write.js";
import { removeStaleTempFiles } from "../../src/stores/json/file.js";
import { runCli, withHome } from "../helpers/env.js";
import { snapshotTree } from "../helpers/tree.js";

const ID = "anthropic:claude-cli";
const asRoot = process.getuid?.() === 0;

test("a symlinked store pointing outside the state dir is refused in one line; its target is untouched", () =>
  withHome(async (t) => {
    t.writeCredentials();
    const victim = path.join(t.root, "victim.json");
    writeFileSync(victim, JSON.stringify({ version: 1, profiles: {} }), { mode: 0o644 });
    mkdirSync(t.agentDir("main"), { recursive: true });
    symlinkSync(victim, t.storePath("main"));
    const before = readFileSync(victim, "utf8");
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /auth-profiles\.json is a symlink to .*victim\.json, outside .*; not written/);
    assert.equal(readFileSync(victim, "utf8"), before);
    assert.equal(statSync(victim).mode & 0o777, 0o644, "not chmodded through the link");
    assert.ok(lstatSync(t.storePath("main")).isSymbolicLink());
  }));

test("a symlink planted at the temp file's name is never followed: the write fails, its target is untouched", () =>
  withHome(async (t) => {
    const dir = t.agentDir("main");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "auth-profiles.json");
    const victim = path.join(t.root, "victim");
    writeFileSync(victim, "precious\n");
    // Make the "random" name known, as an attacker who could predict it would know it.
    const real = crypto.randomBytes;
    (crypto as { randomBytes: unknown }).randomBytes = (n: number) => Buffer.alloc(n, 0xab);
    syncBuiltinESMExports();
    try {
      symlinkSync(victim, `${file}.${"ab".repeat(8)}.tmp`);
      await assert.rejects(writeFileAtomically(file, "{}\n"), /EEXIST/);
    } finally {
      (crypto as { randomBytes: unknown }).randomBytes = real;
      syncBuiltinESMExports();
    }
    assert.equal(readFileSync(victim, "utf8"), "precious\n");
    await writeFileAtomically(file, "{}\n");
    assert.equal(readFileSync(file, "utf8"), "{}\n");
    assert.equal(statSync(file).mode & 0o777, 0o600);
  }));

test("a store whose folder an operator's rm -rf empties while we write is not made again; the folder goes", () =>
  withHome(async (t) => {
    const dir = t.agentDir("gone");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "auth-profiles.json");
    writeFileSync(file, "{}\n", { mode: 0o600 });
    // rm -rf reads the folder, unlinks each name, then removes the folder. It read the folder before our temp
    // file existed, and unlinks what it read at the exact moment our temp file's content is written.
    const read = readdirSync(dir);
    const real = fs.writeFileSync;
    fs.writeFileSync = (...args: Parameters<typeof real>) => {
      if (typeof args[0] === "number") for (const name of read.splice(0)) unlinkSync(path.join(dir, name));
      real(...args);
    };
    try {
      await assert.rejects(writeFileAtomically(file, '{"new":true}\n'), /was removed while it was being written/);
    } finally {
      fs.writeFileSync = real;
    }
    assert.deepEqual(read, [], "the removal began during the write");
    assert.deepEqual(readdirSync(dir), [], "neither the store nor our temp file is left in the folder");
    rmdirSync(dir);
    rmdirSync(path.dirname(dir));
  }));

test("a missing file is made whole, never over a name that is taken: a file, folder or dangling link stays", () =>
  withHome(async (t) => {
    const dir = t.agentDir("main");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "auth-profiles.json");
    writeFileSync(file, "theirs\n");
    assert.equal(await createFileAtomically(file, "ours\n"), false);
    assert.equal(readFileSync(file, "utf8"), "theirs\n");
    const link = path.join(dir, "linked.json");
    const victim = path.join(t.root, "victim");
    symlinkSync(victim, link);
    assert.equal(await createFileAtomically(link, "ours\n"), false);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.throws(() => statSync(victim), /ENOENT/, "nothing made through the link");
    mkdirSync(path.join(dir, "folder.json"));
    assert.equal(await createFileAtomically(path.join(dir, "folder.json"), "ours\n"), false);
    const made = path.join(dir, "new.json");
    assert.equal(await createFileAtomically(made, "ours\n"), true);
    assert.equal(readFileSync(made, "utf8"), "ours\n");
    assert.equal(statSync(made).mode & 0o777, 0o600);
    assert.equal(statSync(made).nlink, 1, "the temp name is gone");
    assert.deepEqual(readdirSync(dir).sort(), ["auth-profiles.json", "folder.json", "linked.json", "new.json"]);
  }));

test("sync makes a missing store whole in one step, as the gateway does: without the lock, not waiting on it", () =>
  withHome(async (t) => {
    t.writeCredentials();
    mkdirSync(t.agentDir("main"), { recursive: true });
    // A lock directory left beside no store: no gateway can hold its lock on a store that is not there.
    const lockDir = `${t.storePath("main")}.lock`;
    mkdirSync(lockDir);
    const config = path.join(t.root, "c.json");
    // A lock timeout longer than the CLI's own 60 s test deadline: had sync waited on the lock, it would not
    // have ended; no load makes a sync that did not wait take that long.
    writeFileSync(config, JSON.stringify({ lockTimeout: "120s" }));
    const r = await runCli(["--config", config, "sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(t.readStore("main").profiles[ID].type, "token");
    assert.equal(statSync(t.storePath("main")).mode & 0o777, 0o600);
    assert.ok(statSync(lockDir).isDirectory(), "somebody else's lock directory is left alone");
    assert.deepEqual(readdirSync(t.agentDir("main")).sort(), ["auth-profiles.json", "auth-profiles.json.lock"]);
  }));

test("stale temp files of both namings are removed; a symlink at such a name is removed, not its target", () =>
  withHome(async (t) => {
    const dir = t.agentDir("main");
    mkdirSync(dir, { recursive: true });
    const victim = path.join(t.root, "victim");
    writeFileSync(victim, "precious\n");
    writeFileSync(path.join(dir, "auth-profiles.json.12345"), "{}");
    writeFileSync(path.join(dir, `auth-state.json.${"0f".repeat(8)}.tmp`), "{}");
    symlinkSync(victim, path.join(dir, `auth-profiles.json.${"1e".repeat(8)}.tmp`));
    writeFileSync(path.join(dir, "auth-profiles.json.bak"), "{}");
    const removed = await removeStaleTempFiles(dir, Date.now() + 60_000);
    const expected = ["auth-profiles.json.12345", `auth-profiles.json.${"1e".repeat(8)}.tmp`];
    expected.push(`auth-state.json.${"0f".repeat(8)}.tmp`);
    assert.deepEqual(removed.sort(), expected);
    assert.equal(readFileSync(victim, "utf8"), "precious\n");
  }));

test("our own state file is never written or read through a symlink", () =>
  withHome(async (t) => {
    const dir = path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync");
    mkdirSync(dir, { recursive: true });
    const victim = path.join(t.root, "victim");
    writeFileSync(victim, JSON.stringify({ pid: 1, startedAt: 1, updatedAt: 1 }));
    symlinkSync(victim, path.join(dir, "state.json"));
    assert.equal(await readDaemonState(path.join(dir, "state.json")), undefined, "not read through the link");
    const write = writeDaemonState(path.join(dir, "state.json"), { pid: 2, startedAt: 2, updatedAt: 2 });
    await assert.rejects(write, /state\.json is a symlink to .*victim; not followed; not written/);
    assert.equal(JSON.parse(readFileSync(victim, "utf8")).pid, 1, "the link's target is untouched");
  }));

const rootOnly = { skip: !asRoot && "needs root" };

test("root never writes into a tree owned by another user: it refuses and says to run as that user", rootOnly, () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    execFileSync("chown", ["-R", "65534:65534", t.stateDir]);
    const before = snapshotTree(t.stateDir);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /refusing to write in .* as root: it belongs to uid 65534; run as that user/);
    assert.match(r.stdout, /service install --system USER/);
    assert.deepEqual(snapshotTree(t.stateDir), before, "nothing written, nothing created");
    // A new agent's folder is not made either.
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify({ agents: { list: [{ id: "new" }] } }));
    chownSync(path.join(t.stateDir, "openclaw.json"), 65534, 65534);
    const r2 = await runCli(["sync"], t.env);
    assert.equal(r2.code, 1, r2.stdout + r2.stderr);
    assert.throws(() => lstatSync(t.agentDir("new")));
    // The same tree, run as its owner, is synced.
    execFileSync("chown", ["-R", "65534:65534", t.root]);
    chmodSync(t.root, 0o755);
    const r3 = await runCli(["sync"], t.env, { uid: 65534, gid: 65534 });
    assert.equal(r3.code, 0, r3.stdout + r3.stderr);
    assert.equal(t.readStore("main").profiles[ID].token, cred.accessToken);
  }),
);

test("root keeps the owner of a store it rewrites in its own tree", rootOnly, () =>
  withHome(async (t) => {
    const cred = t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    chownSync(t.storePath("main"), 65534, 65534);
    const r = await runCli(["sync"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const stat = statSync(t.storePath("main"));
    assert.deepEqual([stat.uid, stat.gid, stat.mode & 0o777], [65534, 65534, 0o600]);
    assert.equal(t.readStore("main").profiles[ID].token, cred.accessToken);
  }),
);
