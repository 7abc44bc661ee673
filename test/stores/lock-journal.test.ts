import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { directoryLock } from "../../src/stores/locks/directory-lock.js";
import { LockNote, recoverLocks } from "../../src/stores/locks/journal.js";
import { isBusy } from "../../src/stores/locks/lock.js";
import { withHome } from "../helpers/env.js";

/** Notes `lockDir`, already made, as a lock of ours that a crash would leave behind. */
function noteLock(journal: string, lockDir: string): LockNote {
  const note = new LockNote(journal, lockDir);
  note.record(lstatSync(lockDir, { bigint: true }));
  return note;
}

const KILLER = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "helpers", "journal-kill.js");

test("lock journal: a lock our dead process left is removed; a live holder's or a re-taken lock is not", () =>
  withHome(async (t) => {
    const journal = path.join(t.root, "held-locks");
    const lock = (name: string) => {
      const dir = path.join(t.root, `${name}.json.lock`);
      mkdirSync(dir);
      return dir;
    };
    const [dead, live, touched, remade] = ["dead", "live", "touched", "remade"].map(lock) as [
      string,
      string,
      string,
      string,
    ];
    const notes = [dead, live, touched, remade].map((dir) => noteLock(journal, dir));
    // Rewrite the notes of all but "live" as if a process that is gone had written them.
    for (const name of readdirSync(journal)) {
      const file = path.join(journal, name);
      const note = JSON.parse(readFileSync(file, "utf8")) as { lockDir: string };
      if (note.lockDir !== live) writeFileSync(file, JSON.stringify({ ...note, pid: 999_999 }));
    }
    const later = (Date.now() + 5_000) / 1000;
    utimesSync(touched, later, later); // someone set its mtime since: not as we left it
    rmdirSync(remade); // taken over and made again: another directory at the same name
    mkdirSync(remade);
    assert.deepEqual(await recoverLocks(journal), [dead]);
    assert.equal(existsSync(dead), false);
    for (const dir of [live, touched, remade]) assert.equal(existsSync(dir), true, dir);
    notes[1]!.forget();
    assert.deepEqual(await recoverLocks(journal), []);
    assert.deepEqual(readdirSync(journal), []);
  }));

for (const point of ["made", "touched", "held"] as const) {
  test(`lock journal: a lock our process held when killed (${point}) is removed at the next start`, () =>
    withHome(async (t) => {
      const journal = path.join(t.root, "held-locks");
      t.writeStore("main", { version: 1, profiles: {} });
      const died = await new Promise<string>((resolve) =>
        execFile(process.execPath, [KILLER, t.storePath("main"), journal, point], (err, stdout) =>
          resolve(`${err?.signal ?? err?.code ?? 0} ${stdout.trim()}`),
        ),
      );
      assert.equal(died, "SIGKILL dying");
      const lockDir = `${t.storePath("main")}.lock`;
      assert.equal(existsSync(lockDir), true, "the kill left the lock");
      assert.deepEqual(await recoverLocks(journal), [lockDir]);
      assert.equal(existsSync(lockDir), false);
      assert.deepEqual(readdirSync(journal), []);
    }));
}

test("lock journal: a process that exits while holding a lock removes the lock and forgets it first", () =>
  withHome(async (t) => {
    const journal = path.join(t.root, "held-locks");
    t.writeStore("main", { version: 1, profiles: {} });
    const died = await new Promise<string>((resolve) =>
      execFile(process.execPath, [KILLER, t.storePath("main"), journal, "exit"], (err, stdout) =>
        resolve(`${err?.code ?? 0} ${stdout.trim()}`),
      ),
    );
    assert.equal(died, "0 dying");
    assert.equal(existsSync(`${t.storePath("main")}.lock`), false);
    // A note left behind would name a lock the next holder may already have made again.
    assert.deepEqual(readdirSync(journal), []);
  }));

test("directory lock: one lock per path and process; noted while held, the note gone and the folder free after", () =>
  withHome(async (t) => {
    const journal = path.join(t.root, "held-locks");
    const file = path.join(t.root, "auth-profiles.json");
    writeFileSync(file, "{}");
    const first = await directoryLock(file, 1_000).tryLock(journal);
    assert.ok(!isBusy(first));
    // A second try of this process while the first holds it is busy, and leaves the first's note alone.
    const second = await directoryLock(file, 1_000).tryLock(journal);
    assert.ok(isBusy(second));
    assert.equal(readdirSync(journal).length, 1, "the holder's note");
    assert.equal(await first.lost(), undefined);
    await first.release();
    assert.deepEqual(readdirSync(journal), [], "forgotten before the folder went");
    assert.equal(existsSync(`${file}.lock`), false);
    const again = await directoryLock(file, 1_000).tryLock(journal);
    assert.ok(!isBusy(again), "free again once released");
    await again.release();
  }));
