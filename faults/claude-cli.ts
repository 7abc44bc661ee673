/**
 * Scenario 4, the claude CLI misbehaves: missing, hanging, failing, printing 1 MB of garbage, or saving its
 * credentials twice in quick succession. Each time: a timeout and a kill where needed, a backoff, the right
 * marking, never two runs at once, and the right final state. A refresher that fails while the token still
 * works marks nothing ("none"); a dead login, or a token that expired unrefreshed, is marked.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  DaemonProcess,
  fakeClaudeRefreshRuns,
  fakeClaudeRuns,
  fakeClaudeTokens,
  installFakeClaude,
} from "../test/helpers/daemon.js";
import { makeHome, type TestHome } from "../test/helpers/env.js";
import { type Outcome, type Row, row, runCases } from "./harness.js";

const ID = "anthropic:claude-cli";
const NAME = "4 claude misbehaves";

interface Case {
  name: string;
  mode: string;
  config?: Record<string, unknown>;
  /** "refreshed", or the marking expected: "none" / "disabled auth" / "cooldown <reason>". */
  expect: string;
  /** When the planted token expires, from now (default 60 s: inside the refresh margin, still valid). */
  expiresInMs?: number;
}

const MISSING = "/nonexistent/claude";

const CASES: Case[] = [
  { name: "claude missing, token valid", mode: "refresh", config: { claudePath: MISSING }, expect: "none" },
  {
    name: "claude missing, token expired",
    mode: "refresh",
    config: { claudePath: MISSING },
    expect: "cooldown auth",
    expiresInMs: -60_000,
  },
  // Long enough for the fake claude (a Node script) to start and set its SIGTERM handler on a loaded machine:
  // with 1 s it was once killed before it had, and the row could not see the SIGTERM it ignores.
  { name: "claude hangs (ignores SIGTERM)", mode: "hang", config: { refreshTimeout: "5s" }, expect: "none" },
  { name: "claude exits 1: OAuth token refresh failed", mode: "fail", expect: "disabled auth" },
  { name: "claude prints 1 MB of garbage", mode: "garbage", expect: "none" },
  { name: "claude saves its credentials twice", mode: "twice", expect: "refreshed" },
];

function marking(t: TestHome): string {
  const stats = t.readStore("main").usageStats?.[ID] ?? {};
  if (stats.disabledUntil > Date.now()) return `disabled ${stats.disabledReason}`;
  if (stats.cooldownUntil > Date.now()) return `cooldown ${Object.keys(stats.failureCounts ?? {}).join("+")}`;
  return "none";
}

/**
 * How long a case waits for the daemon's answer: a bound on a hang, not on the machine's speed. The hang case
 * alone takes 10 s by design (5 s timeout, 5 s before the kill); a loaded runner took over 20 s once.
 */
const ANSWER_WITHIN_MS = 60_000;

async function runCase(c: Case, outputs: string[], planted: string[]): Promise<Row> {
  const t = makeHome();
  const control = installFakeClaude(t, c.mode);
  try {
    const cred = t.writeCredentials({ expiresAt: Date.now() + (c.expiresInMs ?? 60_000) });
    t.writeStore("main", {
      version: 1,
      profiles: { [ID]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt } },
    });
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ ...c.config }));
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    try {
      const problems: string[] = [];
      if (c.expect === "refreshed") {
        await d.waitForEvent("refresh.succeeded", ANSWER_WITHIN_MS);
        // The second save lands right after the first; the store must end with the second.
        await new Promise((r) => setTimeout(r, 1_000));
        const last = JSON.parse(readFileSync(path.join(t.claudeDir, ".credentials.json"), "utf8")).claudeAiOauth
          .accessToken;
        if (t.readStore("main").profiles[ID].token !== last) problems.push("store lacks the second save");
      } else {
        // Nothing is marked for a working token: wait for the failure, then a while for a marking that must not come.
        const marked =
          c.expect === "none"
            ? d.waitForEvent("refresh.failed", ANSWER_WITHIN_MS).then(() => new Promise((r) => setTimeout(r, 1_000)))
            : d.waitForEvent("cooldown.marked", ANSWER_WITHIN_MS);
        const failed = await marked.then(() => d.events("refresh.failed")[0]!);
        if (c.expect === "none" && d.events("cooldown.marked").length > 0) problems.push("a working token was marked");
        if ((failed.retryInMs as number) < 12_000) problems.push(`backoff only ${String(failed.retryInMs)} ms`);
        if (c.mode === "hang") {
          if (failed.timedOut !== true) problems.push("no timeout");
          if (!fakeClaudeRuns(control).some((r) => r.what === "sigterm-ignored"))
            problems.push("no SIGTERM before the kill");
        }
        const got = marking(t);
        if (got !== c.expect) problems.push(`marking ${got}`);
      }
      const starts = fakeClaudeRefreshRuns(control).length;
      const sequence = d.records
        .filter((r) => r.event === "refresh.started" || r.event === "refresh.failed" || r.event === "refresh.succeeded")
        .map((r) => r.event);
      const alternates = sequence.every((e, i) => (i % 2 === 0) === (e === "refresh.started"));
      const expectedStarts = c.config?.claudePath ? 0 : d.events("refresh.started").length;
      if (!alternates || starts !== expectedStarts) problems.push("two runs at once");
      const value = problems.length
        ? problems.join("; ")
        : `${c.expect === "refreshed" ? "refreshed, store holds the last save" : `${c.expect}, backoff`}, one run at a time`;
      return row(
        NAME,
        c.name,
        value,
        c.expect === "refreshed" ? "refreshed, last save synced" : `${c.expect}, backoff ≥ 12 s, single run`,
        problems.length === 0,
      );
    } finally {
      await d.stop();
      outputs.push(d.stdout, d.stderr);
      planted.push(...t.planted, ...fakeClaudeTokens(control));
    }
  } finally {
    t.cleanup();
  }
}

export function claudeMisbehaves(): Promise<Outcome> {
  return runCases(CASES, runCase);
}
