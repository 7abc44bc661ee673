/** The onEvent hook's environment encoding, and its process group ended on timeout and at stop. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import type { Logger } from "pino";
import { EventHooks, hookValue } from "../../src/daemon/event-hook.js";

/** Undoes hookValue for one value (as docs/config.md#onevent tells a hook to). */
function decode(value: string): string {
  return value.replace(/\\(x[0-9a-f]{2}|u[0-9a-f]{4}|.)/g, (_, e: string) => {
    if (e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[e] ?? e;
  });
}

/** AGENTS split on the bare commas only. */
const splitAgents = (agents: string) => agents.split(/(?<!(?:^|[^\\])(?:\\\\)*\\),/);

/** Alive and not a zombie (an orphan's reaper may be slow, or absent in a container). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

test("hookValue: one line, no control character, reversible; in AGENTS a comma inside an id is escaped", () => {
  const ids = ["main", "a,b", "x\nEVENT=forged", "esc\u001b[2J\u0007", "back\\slash,\\", "\u202eevil", "é"];
  const agents = ids.map((id) => hookValue(id, ",")).join(",");
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  assert.doesNotMatch(agents, /[\u0000-\u001f\u007f-\u009f\u202e]/);
  assert.deepEqual(splitAgents(agents).map(decode), ids);
  assert.equal(hookValue("line 1\nline 2\\"), "line 1\\nline 2\\\\");
  assert.equal(hookValue("a,b"), "a,b", "a comma is plain outside AGENTS");
});

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mas-hook-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** A hook that starts a child of its own, writes both pids, and waits for it forever. */
function hungHook(dir: string): { argv: string[]; pids: () => number[] } {
  const script = path.join(dir, "hook.sh");
  const file = path.join(dir, "pids");
  writeFileSync(script, `#!/bin/sh\nsleep 300 &\necho "$$ $!" > "${file}.tmp"\nmv "${file}.tmp" "${file}"\nwait\n`, {
    mode: 0o755,
  });
  const pids = () => (existsSync(file) ? readFileSync(file, "utf8").trim().split(" ").map(Number) : []);
  return { argv: [script], pids };
}

async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 20));
}

const facts = { profile: "anthropic:claude-cli", reason: "r", agents: [{ agent: "main" }] };

test("stop ends a hung hook's whole process group, and says nothing of it", () =>
  withDir(async (dir) => {
    const warnings: string[] = [];
    const log = { warn: (_: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
    const hooks = new EventHooks({ graceMs: 60_000 });
    const hook = hungHook(dir);
    const ran = hooks.run(hook.argv, "needs_login", facts, log);
    await until(() => hook.pids().length === 2);
    assert.ok(hook.pids().every(alive));
    await hooks.stop();
    await ran;
    // SIGKILL is delivered on its own time: the proof is that both end, however long the kernel takes.
    await until(() => hook.pids().every((pid) => !alive(pid)));
    assert.deepEqual(warnings, []);
    rmSync(path.join(dir, "pids"));
    await hooks.run(hook.argv, "needs_login", facts, log);
    assert.deepEqual(hook.pids(), [], "no hook starts after stop");
  }));

test("a hook past its timeout is ended with its group, and that is one warn line", () =>
  withDir(async (dir) => {
    const warnings: string[] = [];
    const log = { warn: (_: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
    const childFile = path.join(dir, "child");
    // Ended at once: whatever it managed to start is in its group and ends with it.
    const hooks = new EventHooks({ timeoutMs: 0, graceMs: 60_000 });
    await hooks.run(["/bin/sh", "-c", `sleep 300 & echo $! > "${childFile}"; wait`], "recovered", facts, log);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^onEvent hook for recovered failed: timed out; its process group was ended$/);
    const child = existsSync(childFile) ? Number(readFileSync(childFile, "utf8").trim()) : 0;
    if (child) await until(() => !alive(child));
  }));
