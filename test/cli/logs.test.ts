import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { runCli, withHome } from "../helpers/env.js";

const at = (iso: string) => new Date(iso).toISOString();

test("logs filters a recorded log by time, level, event and agent, one readable line each", () =>
  withHome(async (t) => {
    const now = Date.now();
    const lines = [
      {
        level: "info",
        time: at(new Date(now - 3 * 3_600_000).toISOString()),
        pid: 1,
        event: "sync.written",
        agent: "main",
        msg: "main: updated sk-ant-oat01-…abcd",
      },
      {
        level: "info",
        time: at(new Date(now - 40 * 60_000).toISOString()),
        pid: 1,
        event: "refresh.started",
        trigger: "timer",
        msg: "asking claude to refresh",
      },
      {
        level: "warn",
        time: at(new Date(now - 39 * 60_000).toISOString()),
        pid: 1,
        event: "refresh.failed",
        reason: "timeout",
        exitCode: null,
        msg: "claude did not finish within 120 s and was killed; retry in 15 s",
      },
      {
        level: "warn",
        time: at(new Date(now - 10 * 60_000).toISOString()),
        pid: 1,
        event: "store.locked",
        agent: "work",
        msg: "locked",
      },
    ].map((r) => JSON.stringify(r));
    const file = path.join(t.root, "daemon.log");
    writeFileSync(file, `${lines.join("\n")}\nnot json\n`);
    const since = await runCli(["logs", "--file", file, "--since", "1h"], t.env);
    assert.equal(since.code, 0, since.stderr);
    assert.equal(since.stdout.trim().split("\n").length, 3);
    const refresh = await runCli(["logs", "--file", file, "--event", "refresh"], t.env);
    assert.deepEqual(
      refresh.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(/\s{2,}/)[2]),
      ["refresh.started", "refresh.failed"],
    );
    assert.match(
      refresh.stdout,
      /WARN\s+refresh\.failed\s+claude did not finish within 120 s and was killed; retry in 15 s\s+reason=timeout/,
    );
    const warn = await runCli(["logs", "--file", file, "--level", "warn", "--agent", "work", "--json"], t.env);
    assert.deepEqual(
      warn.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).event),
      ["store.locked"],
    );
    const bad = await runCli(["logs", "--file", file, "--since", "yesterday-ish"], t.env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--since yesterday-ish: expected a duration/);
    const missing = await runCli(["logs", "--file", path.join(t.root, "none.log")], t.env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no log file/);
  }));

test("logs --state-dir --agent main: only that gateway's main, of several (config stateDirs)", () =>
  withHome(async (t) => {
    const [a, b] = [path.join(t.root, "gw-a"), path.join(t.root, "gw-b")];
    const time = new Date().toISOString();
    const lines = [
      { level: "info", time, event: "sync.written", agent: "main", stateDir: a, msg: `main (${a}): added` },
      { level: "info", time, event: "sync.written", agent: "main", stateDir: b, msg: `main (${b}): added` },
      { level: "warn", time, event: "cooldown.marked", agents: ["main", "main"], stateDirs: [a, b], msg: "both" },
      { level: "info", time, event: "daemon.ready", msg: "no state dir" },
    ].map((r) => JSON.stringify(r));
    const file = path.join(t.root, "daemon.log");
    writeFileSync(file, `${lines.join("\n")}\n`);
    const r = await runCli(["logs", "--file", file, "--state-dir", b, "--json"], t.env);
    assert.equal(r.code, 0, r.stderr);
    const got = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; msg: string });
    assert.deepEqual(
      got.map((x) => x.msg),
      [`main (${b}): added`, "both"],
    );
  }));
