import assert from "node:assert/strict";
import {
  watch as fsWatch,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { watchFile } from "../../src/daemon/file-watch.js";
import { watchFolder } from "../../src/daemon/watch.js";

test("watch: ready resolves even when awaited long after the initial scan", async () => {
  const root = mkdtempSync(path.join(tmpdir(), "mas-watch-"));
  const folder = path.join(root, "later", "creds");
  const events: string[] = [];
  const watch = watchFolder(folder, {
    depth: 0,
    accept: () => true,
    onEvent: (event, file) => events.push(`${event} ${path.basename(file)}`),
    onError: assert.fail,
  });
  try {
    // The daemon does other I/O between making a watcher and waiting for it; the scan may finish first.
    await sleep(500);
    await watch.ready;
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, "a.json"), "{}");
    for (let i = 0; i < 100 && !events.includes("add a.json"); i++) await sleep(20);
    assert.ok(events.includes("add a.json"), `events: ${events.join(", ")}`);
  } finally {
    await watch.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** inotify watches this process holds (Linux), from /proc/self/fdinfo. */
function inotifyWatches(): number {
  let watches = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    const target = (() => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return "";
      }
    })();
    if (target.includes("inotify"))
      watches += readFileSync(`/proc/self/fdinfo/${fd}`, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("inotify wd:")).length;
  }
  return watches;
}

test(
  "watch: a leaf folder's files cost no watch of their own, and each write or rename is reported",
  {
    skip: process.platform !== "linux",
  },
  async () => {
    const root = mkdtempSync(path.join(tmpdir(), "mas-watch-"));
    const folder = path.join(root, "agents");
    const agentDirs = ["a", "b", "c"].map((id) => path.join(folder, id));
    for (const dir of agentDirs) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "store.json"), "{}");
    }
    const events: string[] = [];
    const before = inotifyWatches();
    const watch = watchFolder(folder, {
      depth: 0,
      accept: (rel) => rel.split(path.sep).length === 1 || path.basename(rel) === "store.json",
      leafFolder: (rel) => rel.split(path.sep).length === 1,
      onEvent: (event, file) => events.push(`${event} ${path.relative(folder, file)}`),
      onError: assert.fail,
    });
    const seen = (what: string) => events.includes(what);
    const waitFor = async (what: string) => {
      for (let i = 0; i < 100 && !seen(what); i++) await sleep(20);
      assert.ok(seen(what), `${what} not in events: ${events.join(", ")}`);
    };
    try {
      await watch.ready;
      // The root above `folder`, `folder` itself and one per agent folder: none for the store files.
      assert.equal(inotifyWatches() - before, 2 + agentDirs.length);
      const store = path.join(agentDirs[0]!, "store.json");
      writeFileSync(store, '{"a":1}');
      await waitFor(`change ${path.join("a", "store.json")}`);
      // An atomic replace (temp file, rename into place) of another agent's store.
      const other = path.join(agentDirs[1]!, "store.json");
      writeFileSync(`${other}.tmp`, '{"b":1}');
      renameSync(`${other}.tmp`, other);
      await waitFor(`change ${path.join("b", "store.json")}`);
      assert.ok(!events.some((e) => e.includes(".tmp")), `events: ${events.join(", ")}`);
      // A write right after one reported (within chokidar's 50 ms throttle, which would drop it) is reported too.
      const storeChanges = () => events.filter((e) => e === `change ${path.join("a", "store.json")}`).length;
      const reported = storeChanges();
      writeFileSync(store, '{"a":2}');
      for (let i = 0; i < 500 && storeChanges() === reported; i++) await sleep(1);
      writeFileSync(store, '{"a":3}');
      for (let i = 0; i < 100 && storeChanges() < reported + 2; i++) await sleep(20);
      assert.ok(storeChanges() >= reported + 2, `events: ${events.join(", ")}`);
      // A leaf folder made after the scan is watched, and one removed and made again is watched anew.
      const late = path.join(folder, "d");
      mkdirSync(late);
      await waitFor("addDir d");
      writeFileSync(path.join(late, "store.json"), "{}");
      await waitFor(`change ${path.join("d", "store.json")}`);
      rmSync(agentDirs[2]!, { recursive: true });
      await waitFor("unlinkDir c");
      mkdirSync(agentDirs[2]!);
      await waitFor("addDir c");
      writeFileSync(path.join(agentDirs[2]!, "store.json"), "{}");
      await waitFor(`change ${path.join("c", "store.json")}`);
      assert.equal(inotifyWatches() - before, 2 + agentDirs.length + 1);
    } finally {
      await watch.close();
      rmSync(root, { recursive: true, force: true });
    }
    assert.equal(inotifyWatches(), before);
  },
);

test("watchFile: one inotify watch; sees an atomic rename, a folder made later, and a folder made again", async () => {
  const root = mkdtempSync(path.join(tmpdir(), "mas-watch-"));
  const folder = path.join(root, "later", "claude");
  const file = path.join(folder, ".credentials.json");
  let events = 0;
  const seen = async (what: string) => {
    const before = events;
    for (let i = 0; i < 100 && events === before; i++) await sleep(20);
    assert.ok(events > before, `no event after ${what}`);
  };
  const before = inotifyWatches();
  const watch = watchFile(file, { onEvent: () => events++, onError: assert.fail });
  try {
    await watch.ready;
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, "other.json"), "{}");
    writeFileSync(file, "{}");
    await seen("the folder and the file were made");
    writeFileSync(`${file}.tmp`, '{"a":1}');
    renameSync(`${file}.tmp`, file);
    await seen("an atomic rename");
    // chokidar held two here (the folder and the file): the folder's own watch names the file.
    assert.equal(inotifyWatches() - before, 1, "one watch for the credentials");
    rmSync(folder, { recursive: true });
    await seen("the folder was removed");
    mkdirSync(folder);
    writeFileSync(file, "{}");
    await seen("the folder was made again");
    const quiet = events;
    // A second watch on the folder shares the inotify queue: once it has seen the barrier made after
    // other.json, the watch under test has been handed other.json's event too.
    let barrier: () => void;
    const handed = new Promise<void>((resolve) => (barrier = resolve));
    const witness = fsWatch(folder, (_event, entry) => entry === "barrier" && barrier());
    try {
      writeFileSync(path.join(folder, "other.json"), "{}");
      writeFileSync(path.join(folder, "barrier"), "");
      await handed;
    } finally {
      witness.close();
    }
    assert.equal(events, quiet, "another file in the folder is no event");
  } finally {
    await watch.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  "watch: the folders below a leaf folder (leafDepth) are watched by plain watches: one per agent, none by chokidar",
  { skip: process.platform !== "linux" },
  async () => {
    const root = mkdtempSync(path.join(tmpdir(), "mas-watch-"));
    const folder = path.join(root, "agents");
    const ids = ["a", "b", "c"];
    for (const id of ids) {
      mkdirSync(path.join(folder, id, "agent"), { recursive: true });
      mkdirSync(path.join(folder, id, "sessions"));
    }
    const events: string[] = [];
    const before = inotifyWatches();
    const accept = (rel: string) => {
      const parts = rel.split(path.sep);
      return parts.length === 1 || (parts[1] === "agent" && (parts.length === 2 || parts[2] === "store.json"));
    };
    const watch = watchFolder(folder, {
      depth: 0,
      accept,
      leafFolder: (rel) => rel.split(path.sep).length === 1,
      leafDepth: 1,
      onEvent: (event, file) => events.push(`${event} ${path.relative(folder, file)}`),
      onError: assert.fail,
    });
    const waitFor = async (what: string) => {
      for (let i = 0; i < 100 && !events.includes(what); i++) await sleep(20);
      assert.ok(events.includes(what), `${what} not in events: ${events.join(", ")}`);
    };
    try {
      await watch.ready;
      // The root above `folder`, `folder` itself, and per agent its `agent` folder (not the agent's own folder,
      // parked while `agent` is there, nor `sessions`).
      assert.equal(inotifyWatches() - before, 2 + ids.length);
      const store = path.join(folder, "a", "agent", "store.json");
      writeFileSync(`${store}.tmp`, "{}");
      renameSync(`${store}.tmp`, store);
      await waitFor(`change ${path.join("a", "agent", "store.json")}`);
      // An agent folder removed, made again, and a new agent made with `mkdir -p`.
      rmSync(path.join(folder, "b", "agent"), { recursive: true });
      await waitFor(`unlinkDir ${path.join("b", "agent")}`);
      mkdirSync(path.join(folder, "b", "agent"));
      await waitFor(`addDir ${path.join("b", "agent")}`);
      writeFileSync(path.join(folder, "b", "agent", "store.json"), "{}");
      await waitFor(`change ${path.join("b", "agent", "store.json")}`);
      // Moved away and replaced, with the agent folder parked again in between; an entry named like its folder.
      events.length = 0;
      renameSync(path.join(folder, "b", "agent"), path.join(folder, "b", "agent.old"));
      await waitFor(`unlinkDir ${path.join("b", "agent")}`);
      mkdirSync(path.join(folder, "b", "agent"));
      await waitFor(`addDir ${path.join("b", "agent")}`);
      mkdirSync(path.join(folder, "b", "agent", "agent"));
      writeFileSync(path.join(folder, "b", "agent", "store.json"), "[]");
      await waitFor(`change ${path.join("b", "agent", "store.json")}`);
      assert.equal(events.filter((e) => e === `unlinkDir ${path.join("b", "agent")}`).length, 1, events.join(", "));
      mkdirSync(path.join(folder, "d", "agent"), { recursive: true });
      await waitFor("addDir d");
      writeFileSync(path.join(folder, "d", "agent", "store.json"), "{}");
      await waitFor(`change ${path.join("d", "agent", "store.json")}`);
      rmSync(path.join(folder, "c"), { recursive: true });
      await waitFor("unlinkDir c");
      for (let i = 0; i < 50 && inotifyWatches() - before !== 2 + ids.length; i++) await sleep(20);
      assert.equal(inotifyWatches() - before, 2 + ids.length);
      assert.ok(!events.some((e) => e.includes("sessions") || e.includes(".tmp")), `events: ${events.join(", ")}`);
    } finally {
      await watch.close();
      rmSync(root, { recursive: true, force: true });
    }
    assert.equal(inotifyWatches(), before);
  },
);
