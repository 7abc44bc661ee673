/**
 * The SQLite child's deadline: a request that never returns fails in one line naming the database and what was
 * being done, the child is killed, and the next request gets a new one. No timing is asserted: the stuck
 * operation never ends, so the deadline is the only way out.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { endSqliteWorkers, SqliteWorker } from "../../src/stores/sqlite/worker-client.js";

const script = new URL("../helpers/slow-operations.js", import.meta.url);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("sqlite worker: answers, and a failure inside comes back as one line", async () => {
  const worker = new SqliteWorker({ script });
  try {
    assert.deepEqual(await worker.call("echo", { a: [1, 2] }, "/x.sqlite", "echoing"), { a: [1, 2] });
    await assert.rejects(worker.call("fail", {}, "/x.sqlite", "reading"), {
      message: "no such table: auth_profile_store",
    });
  } finally {
    worker.end();
  }
});

test("sqlite worker: a stuck operation is abandoned at the deadline, its process killed, the next gets a new one", async () => {
  const worker = new SqliteWorker({ script });
  try {
    // The process is up (it answered) before the short deadline starts: its start is no part of the test.
    const stuckPid = await worker.call<number>("pid", {}, "/x.sqlite", "asking");
    const stuck = worker.call("spin", {}, "/state/openclaw.sqlite", "writing auth cells and COMMIT", 300);
    const queued = worker.call("echo", 1, "/x.sqlite", "echoing");
    await assert.rejects(stuck, {
      message: "/state/openclaw.sqlite: SQLite did not finish writing auth cells and COMMIT within 0.3 s; abandoned",
    });
    // A request behind the stuck one fails with it, naming its own database and what held it up.
    await assert.rejects(queued, {
      message:
        "/x.sqlite: not read; SQLite did not finish writing auth cells and COMMIT within 0.3 s in /state/openclaw.sqlite",
    });
    // SIGKILL is asynchronous: wait for the positive signal that the process is gone.
    while (alive(stuckPid)) await new Promise((resolve) => setImmediate(resolve));
    const fresh = await worker.call<number>("pid", {}, "/x.sqlite", "asking");
    assert.notEqual(fresh, stuckPid);
  } finally {
    worker.end();
  }
});

test("sqlite worker: a stop ends every child at once, failing what it was asked", async () => {
  const worker = new SqliteWorker({ script });
  const stuck = worker.call("spin", {}, "/a.sqlite", "reading its schema");
  assert.equal(endSqliteWorkers(), 1);
  await assert.rejects(stuck, { message: "the SQLite process was stopped" });
});
