/** The gateway's SQLite lock folder as status and doctor judge it: who owns it, and the command that clears it. */
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { lockFolderProblem } from "../../src/stores/sqlite/lock-folder.js";
import { lockDirectory } from "../../src/stores/sqlite/lifecycle-lock.js";

const asRoot = process.getuid?.() === 0;
const me = process.getuid!();

function withDir(fn: (root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), "mas-locks-"));
  return fn(root).finally(() => rmSync(root, { recursive: true, force: true }));
}

test("the folder is the one the SQLite lock uses", async () => {
  assert.equal(lockDirectory(1234), "/tmp/openclaw-state-locks-1234");
});

test("missing, or ours and private: nothing to say", () =>
  withDir(async (root) => {
    const dir = path.join(root, "openclaw-state-locks-x");
    assert.equal(await lockFolderProblem(me, dir), undefined);
    mkdirSync(dir, { mode: 0o700 });
    assert.equal(await lockFolderProblem(me, dir), undefined);
  }));

test("another user's folder names its owner and the exact command, with sudo for a user", { skip: !asRoot }, () =>
  withDir(async (root) => {
    const dir = path.join(root, "openclaw-state-locks-$(x) y");
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    const asRootSees = await lockFolderProblem(0, dir);
    assert.match(asRootSees!.detail, /is owned by nobody \(uid 65534\), not root \(uid 0\), so every SQLite write/);
    assert.equal(asRootSees!.fix.split("   (")[0], `rm -r -- '${dir}'`);
    const userSees = await lockFolderProblem(54_321, dir);
    assert.match(userSees!.detail, /is owned by nobody \(uid 65534\), not uid 54321,/);
    assert.equal(userSees!.fix.split("   (")[0], `sudo rm -r -- '${dir}'`);
  }),
);

test("a symlink or a folder others can write is refused as the gateway refuses it", () =>
  withDir(async (root) => {
    const dir = path.join(root, "locks");
    mkdirSync(path.join(root, "elsewhere"));
    symlinkSync(path.join(root, "elsewhere"), dir);
    assert.match((await lockFolderProblem(me, dir))!.detail, /is not a real folder/);
    rmSync(dir);
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const loose = await lockFolderProblem(me, dir);
    assert.match(loose!.detail, /is not private \(mode 0755\)/);
    assert.equal(loose!.fix, `chmod 700 -- ${dir}`);
  }));
