import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { noteLock, recoverLocks } from "../../src/stores/locks/journal.js";
import { withHome } from "../helpers/env.js";

test("lock journal: a lock our dead process left is removed; a live holder's or a re-taken lock is not", () =>
  withHome(async (t) => {
    const journal = path.join(t.root, "held-locks");
    const lock = (name: string) => {
      const dir = path.join(t.root, `${name}.json.lock`);
      mkdirSync(dir);
      return dir;
    };
    const dead = lock("dead");
    const live = lock("live");
    const retaken = lock("retaken");
    const forget = await noteLock(journal, live);
    await noteLock(journal, dead);
    await noteLock(journal, retaken);
    // Rewrite the notes of "dead" and "retaken" as if a process that is gone had written them.
    for (const dir of [dead, retaken]) {
      const note = path.join(journal, `${createHash("sha256").update(dir).digest("hex").slice(0, 16)}.json`);
      const mtimeMs = statSync(dir).mtimeMs;
      writeFileSync(note, JSON.stringify({ pid: 999_999, lockDir: dir, mtimeMs }));
    }
    const later = (Date.now() + 5_000) / 1000;
    utimesSync(retaken, later, later); // someone took it since
    assert.deepEqual(await recoverLocks(journal), [dead]);
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(live), true);
    assert.equal(existsSync(retaken), true);
    await forget();
    assert.deepEqual(await recoverLocks(journal), []);
  }));
