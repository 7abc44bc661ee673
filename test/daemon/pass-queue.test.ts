/** The pass queue: one pass at a time, work during a pass coalesced into one more; passes finish when told. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PassQueue } from "../../src/daemon/pass-queue.js";
import type { Agent } from "../../src/stores/discovery/agents.js";
import { settle } from "../helpers/daemon.js";

const agent = (id: string): Agent => ({ id, dir: `/state/agents/${id}/agent`, stateDir: "/state" });

/** A queue whose passes each wait until `finish` is called; `passes` lists what each pass was asked for. */
function queue(fail = false, sourcesChanged?: () => Promise<boolean>) {
  const passes: Array<string[] | "all"> = [];
  const errors: unknown[] = [];
  const finishers: Array<() => void> = [];
  let running = 0;
  let most = 0;
  const q = new PassQueue(
    async (only) => {
      passes.push(only ? only.map((a) => a.id) : "all");
      most = Math.max(most, ++running);
      await new Promise<void>((resolve) => finishers.push(resolve));
      running--;
      if (fail) throw new Error("store exploded");
    },
    (err) => errors.push(err),
    sourcesChanged,
  );
  const finish = async () => {
    finishers.shift()?.();
    await settle();
  };
  return { q, passes, errors, finish, most: () => most };
}

test("pass queue: one pass at a time; work during one is one more pass; a full one swallows agent work", async () => {
  const { q, passes, finish, most } = queue();
  q.full();
  await settle();
  assert.equal(q.busy, true);
  q.agent(agent("work"));
  q.full();
  q.agent(agent("main"));
  await settle();
  assert.deepEqual(passes, ["all"], "nothing starts while a pass runs");
  await finish();
  assert.deepEqual(passes, ["all", "all"]);
  await finish();
  assert.equal(q.busy, false);
  assert.deepEqual(passes, ["all", "all"]);
  assert.equal(most(), 1);
});

test("pass queue: per-agent work during a pass becomes one pass over those agents, each once", async () => {
  const { q, passes, finish } = queue();
  q.agent(agent("main"));
  await settle();
  q.agent(agent("work"));
  q.agent(agent("ops"));
  q.agent(agent("work"));
  await finish();
  assert.deepEqual(passes, [["main"], ["work", "ops"]]);
  await finish();
  assert.equal(q.busy, false);
});

test("pass queue: nextPassDone resolves when the pass in flight has finished, not before", async () => {
  const { q, finish } = queue();
  q.full();
  await settle();
  let done = false;
  void q.nextPassDone().then(() => (done = true));
  await settle();
  assert.equal(done, false);
  await finish();
  assert.equal(done, true);
});

test("pass queue: a failing pass is reported and the queue goes on", async () => {
  const { q, passes, errors, finish } = queue(true);
  q.full();
  await settle();
  q.agent(agent("main"));
  await finish();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /store exploded/);
  assert.deepEqual(passes, ["all", ["main"]]);
  await finish();
  assert.equal(q.busy, false);
});

test("pass queue: stop waits for the pass in flight and runs nothing after it", async () => {
  const { q, passes, finish } = queue();
  q.full();
  await settle();
  q.agent(agent("main"));
  let stopped = false;
  void q.stop().then(() => (stopped = true));
  await settle();
  assert.equal(stopped, false);
  await finish();
  assert.equal(stopped, true);
  q.full();
  await settle();
  assert.deepEqual(passes, ["all"]);
});

test("pass queue: a source event is a full pass when idle; during a pass, a look at the sources after it", async () => {
  let changed = false;
  let looks = 0;
  const { q, passes, finish } = queue(false, () => {
    looks++;
    return Promise.resolve(changed);
  });
  q.sources();
  await settle();
  assert.deepEqual(passes, ["all"], "idle: the pass itself reads the sources");
  assert.equal(looks, 0);
  q.sources();
  q.sources();
  await finish();
  assert.equal(looks, 1, "the burst's events are one look");
  assert.deepEqual(passes, ["all"], "the sources as the pass read them: no second pass");
  assert.equal(q.busy, false);

  q.agent(agent("main"));
  await settle();
  changed = true;
  q.sources();
  q.agent(agent("work"));
  await finish();
  assert.equal(looks, 2);
  assert.deepEqual(passes, ["all", ["main"], "all"], "a changed source takes a full pass, swallowing agent work");
  await finish();
  assert.equal(q.busy, false);
});
