import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
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
