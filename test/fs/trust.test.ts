/**
 * As root, a path is trusted only if it and every folder above it is root's (fs/trust.ts), and a write lands
 * in the folder it checked on descriptors even when a component is swapped for a symlink (issue 22, item 3).
 * The cases run for real as root, as in CI, over trees owned by uid 65534.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  closeSync,
  lchownSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createFileAtomically, writeFileAtomically } from "../../src/fs/atomic-write.js";
import { ForeignOwnerError, assertTrusted, openTrustedDir } from "../../src/fs/trust.js";
import { recoverLocks } from "../../src/stores/locks/journal.js";
import { withHome } from "../helpers/env.js";

const asRoot = process.getuid?.() === 0;
const skip = asRoot ? false : "needs root";

test("a path under a folder another user owns is refused, naming that folder and its owner", { skip }, () =>
  withHome(async (t) => {
    const user = path.join(t.root, "user");
    mkdirSync(path.join(user, "deep"), { recursive: true });
    chownSync(user, 65534, 65534);
    assert.throws(
      () => assertTrusted(path.join(user, "deep", "file")),
      (err: unknown) => {
        assert.ok(err instanceof ForeignOwnerError);
        assert.match(err.message, new RegExp(`refusing to write in ${user} as root: it belongs to uid 65534`));
        return true;
      },
    );
    assert.doesNotThrow(() => assertTrusted(path.join(t.root, "root-only", "file")));
  }),
);

test("a root folder that others can write in is refused, unless it is sticky as /tmp is", { skip }, () =>
  withHome(async (t) => {
    const open = path.join(t.root, "open");
    mkdirSync(path.join(open, "deep"), { recursive: true });
    chmodSync(open, 0o777);
    assert.throws(() => assertTrusted(path.join(open, "deep", "file")), /it is a folder anyone can write in/);
    assert.throws(() => openTrustedDir(path.join(open, "deep")), /it is a folder anyone can write in/);
    chmodSync(open, 0o1777);
    assert.doesNotThrow(() => assertTrusted(path.join(open, "deep", "file")));
    const fd = openTrustedDir(path.join(open, "deep"));
    if (fd !== undefined) closeSync(fd);
    chmodSync(open, 0o775);
    chownSync(open, 0, 65534);
    assert.throws(() => assertTrusted(path.join(open, "deep")), /it is a folder group 65534 can write in/);
    chownSync(open, 0, 0);
    assert.doesNotThrow(() => assertTrusted(path.join(open, "deep")), "group root is root");
  }),
);

test("a user's symlink to a root folder is refused; a root-owned one on the way is followed", { skip }, () =>
  withHome(async (t) => {
    const host = path.join(t.root, "etc");
    mkdirSync(host);
    const link = path.join(t.root, "link");
    symlinkSync(host, link);
    assert.doesNotThrow(() => assertTrusted(path.join(link, "file")));
    assert.throws(() => assertTrusted(link), /it is a symlink we did not expect/);
    lchownSync(link, 65534, 65534);
    assert.throws(() => assertTrusted(path.join(link, "file")), /it belongs to uid 65534/);
    assert.throws(() => openTrustedDir(link), /it belongs to uid 65534/);
  }),
);

test("a write through a user's agent-folder symlink into a root folder is refused; nothing lands", { skip }, () =>
  withHome(async (t) => {
    const host = path.join(t.root, "etc");
    mkdirSync(host);
    const user = path.join(t.root, "user");
    mkdirSync(user);
    symlinkSync(host, path.join(user, "agent"));
    lchownSync(path.join(user, "agent"), 65534, 65534);
    chownSync(user, 65534, 65534);
    const file = path.join(user, "agent", "auth-profiles.json");
    await assert.rejects(writeFileAtomically(file, "{}"), /belongs to uid 65534/);
    await assert.rejects(createFileAtomically(file, "{}"), /belongs to uid 65534/);
    assert.deepEqual(readdirSync(host), []);
  }),
);

test("a folder swapped for a symlink after it was opened does not redirect the write", { skip }, () =>
  withHome(async (t) => {
    const dir = path.join(t.root, "state", "agents");
    mkdirSync(dir, { recursive: true });
    const fd = openTrustedDir(dir)!;
    const foreign = path.join(t.root, "foreign");
    mkdirSync(foreign);
    chownSync(foreign, 65534, 65534);
    renameSync(dir, `${dir}.real`);
    symlinkSync(foreign, dir);
    writeFileSync(`/proc/self/fd/${fd}/probe`, "x");
    assert.deepEqual(readdirSync(foreign), []);
    assert.deepEqual(readdirSync(`${dir}.real`), ["probe"]);
    rmSync(dir);
    await assert.rejects(writeFileAtomically(path.join(dir, "store.json"), "{}"), /ENOENT/);
    symlinkSync(foreign, dir);
    await assert.rejects(writeFileAtomically(path.join(dir, "store.json"), "{}"), /belongs to uid 65534/);
    assert.deepEqual(readdirSync(foreign), []);
  }),
);

test("a lock journal in a user's tree is refused before any note in it is acted on", { skip }, () =>
  withHome(async (t) => {
    const host = path.join(t.root, "etc");
    mkdirSync(host);
    writeFileSync(path.join(host, "passwd"), "root's");
    const runtime = path.join(t.root, "user-state");
    mkdirSync(runtime);
    symlinkSync(host, path.join(runtime, "held-locks"));
    chownSync(runtime, 65534, 65534);
    await assert.rejects(recoverLocks(path.join(runtime, "held-locks")), /refusing to recover locks from .*uid 65534/);
    assert.deepEqual(readdirSync(host), ["passwd"]);
  }),
);
