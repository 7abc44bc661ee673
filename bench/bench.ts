/**
 * `npm run bench`: the daemon's figures, as JSON on stdout (progress on stderr). Real daemon process,
 * real files in a temp HOME. Compare ratios within one run; absolute times vary with the machine.
 *   BENCH_REWRITES (default 60)  rewrites for the 1-agent latency
 *   BENCH_WIDE_REWRITES (20)     rewrites for the 200-agent latency
 *   BENCH_IDLE_S (30)            idle window for RSS and CPU
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fingerprint } from "../src/core/fingerprint.js";
import { DaemonProcess } from "../test/helpers/daemon.js";
import { makeHome, runCli, type TestHome } from "../test/helpers/env.js";

const REWRITES = Number(process.env.BENCH_REWRITES ?? 60);
const WIDE_REWRITES = Number(process.env.BENCH_WIDE_REWRITES ?? 20);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30);
const WIDE_AGENTS = 200;
const CRON_INTERVAL_MS = 5 * 60_000;

const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const round = (n: number) => Math.round(n * 10) / 10;

/** ms from an atomic rewrite until every agent has logged `sync.written` for the new token. */
async function rewriteLatencies(d: DaemonProcess, t: TestHome, agents: number, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const from = d.records.length;
    const started = performance.now();
    const { accessToken } = t.writeCredentials();
    const fp = fingerprint(accessToken);
    const seen = new Set<unknown>();
    await d.waitFor(
      (r) => {
        if (r.event === "sync.written" && r.fingerprint === fp) seen.add(r.agent);
        return seen.size >= agents;
      },
      30_000,
      from,
    );
    latencies.push(performance.now() - started);
    await sleep(50);
  }
  return latencies;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}
function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

async function main(): Promise<void> {
  const t = makeHome();
  const wide = makeHome();
  try {
    t.writeCredentials();
    progress("starting the daemon (1 agent)");
    const spawned = performance.now();
    const d = new DaemonProcess(t);
    const ready = await d.waitForEvent("daemon.ready", 30_000);
    const startToFirstSync = performance.now() - spawned;
    await sleep(300);

    progress(`${REWRITES} atomic rewrites, 1 agent`);
    const one = await rewriteLatencies(d, t, 1, REWRITES);

    progress(`idle for ${IDLE_S} s (RSS, CPU)`);
    const ticksBefore = cpuTicks(d.child.pid!);
    await sleep(IDLE_S * 1000);
    const idleCpuPercent =
      ((cpuTicks(d.child.pid!) - ticksBefore) / Number(execFileSync("getconf", ["CLK_TCK"]).toString()) / IDLE_S) * 100;
    const idleRss = rssMb(d.child.pid!);
    await d.stop();

    progress(`starting the daemon (${WIDE_AGENTS} agents)`);
    wide.writeCredentials();
    for (let i = 0; i < WIDE_AGENTS; i++)
      mkdirSync(wide.agentDir(`agent-${String(i).padStart(3, "0")}`), { recursive: true });
    const w = new DaemonProcess(wide);
    await w.waitForEvent("daemon.ready", 60_000);
    await sleep(500);
    progress(`${WIDE_REWRITES} atomic rewrites, ${WIDE_AGENTS} agents`);
    const many = await rewriteLatencies(w, wide, WIDE_AGENTS, WIDE_REWRITES);
    await w.stop();

    progress("the design it replaces: `sync` from cron every 5 minutes");
    const syncRuns: number[] = [];
    for (let i = 0; i < 5; i++) {
      t.writeCredentials();
      const started = performance.now();
      const r = await runCli(["sync"], t.env);
      if (r.code !== 0) throw new Error(`sync failed: ${r.stderr}`);
      syncRuns.push(performance.now() - started);
    }
    // A rewrite lands at a uniformly random moment of the cron interval: it waits half an interval on
    // average (the whole interval at worst) before the cron's `sync` even starts.
    const cronMean = CRON_INTERVAL_MS / 2 + percentile(syncRuns, 50);
    const cronP99 = CRON_INTERVAL_MS * 0.99 + percentile(syncRuns, 99);

    const result = {
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
      },
      latencyOneAgentMs: {
        n: one.length,
        p50: round(percentile(one, 50)),
        p99: round(percentile(one, 99)),
        max: round(Math.max(...one)),
      },
      latency200AgentsMs: { n: many.length, p50: round(percentile(many, 50)), p99: round(percentile(many, 99)) },
      startToFirstSyncMs: { fromSpawn: round(startToFirstSync), insideDaemon: ready.firstSyncMs },
      idle: { seconds: IDLE_S, rssMb: round(idleRss), cpuPercentOfOneCore: round(idleCpuPercent) },
      cronDesign: {
        intervalMs: CRON_INTERVAL_MS,
        syncCommandMs: round(percentile(syncRuns, 50)),
        stalenessMeanMs: round(cronMean),
        stalenessP99Ms: round(cronP99),
        note: "modelled: the rewrite waits for the next 5-minute tick, then one measured `sync` run",
      },
      stalenessRatioCronOverDaemon: {
        mean: Math.round(cronMean / percentile(one, 50)),
        p99: Math.round(cronP99 / percentile(one, 99)),
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    t.cleanup();
    wide.cleanup();
  }
}

await main();
