/**
 * `npm run bench`: the daemon's figures, as JSON on stdout (progress on stderr), each beside the physical floor
 * (bench/floor.ts) measured the same way in the same run, and beside its target. Real daemon process, real files
 * in a temp HOME. Quote ratios within one run; absolute times vary with the machine.
 *   BENCH_REWRITES (default 60)        rewrites for the 1-agent latency
 *   BENCH_WIDE_REWRITES (20)           rewrites for the 200-agent latency
 *   BENCH_LARGE_AGENTS (10000)         agents for the large figures; 0 skips them
 *   BENCH_IDLE_S (30)                  idle window for RSS and CPU
 *   BENCH_SQLITE_AGENTS (1000)         agent databases of the SQLite generation's large figures (bench/sqlite.ts);
 *                                      0 runs only its 1-database figures
 *   BENCH_SQLITE_RUNS (3)              runs of each SQLite CLI figure (`sync`, `cooldown clear`)
 *   BENCH_SQLITE_ROTATIONS (3)         login changes reaching BENCH_SQLITE_AGENTS agents; 0 skips them
 *   BENCH_FLEET_ROUNDS (30)            logins published through a three-member etcd cluster (bench/fleet.ts); 0 skips
 *   BENCH_ONLY (unset)                 `sqlite`, `json` or `fleet`: only that part's figures
 * Idle memory is quoted beside the library floor (bench/library-floor.ts), idling in the same window: the design
 * card's libraries loaded in a bare process, each doing its job once.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { fingerprint } from "../src/core/fingerprint.js";
import { DaemonProcess } from "../test/helpers/daemon.js";
import { BIN, makeHome, runCli, type TestHome } from "../test/helpers/env.js";
import { fleetFigures } from "./fleet.js";
import { sqliteFigures } from "./sqlite.js";
import { percentile, ratio, round } from "./stats.js";

const REWRITES = Number(process.env.BENCH_REWRITES ?? 60);
const WIDE_REWRITES = Number(process.env.BENCH_WIDE_REWRITES ?? 20);
const LARGE_AGENTS = Number(process.env.BENCH_LARGE_AGENTS ?? 10_000);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30);
const SQLITE = {
  agents: Number(process.env.BENCH_SQLITE_AGENTS ?? 1000),
  runs: Number(process.env.BENCH_SQLITE_RUNS ?? 3),
  rotations: Number(process.env.BENCH_SQLITE_ROTATIONS ?? 3),
};
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && !["sqlite", "json", "fleet"].includes(ONLY))
  throw new Error("BENCH_ONLY is sqlite, json or fleet");
const FLEET_ROUNDS = Number(process.env.BENCH_FLEET_ROUNDS ?? 30);
const WIDE_AGENTS = 200;
const CRON_INTERVAL_MS = 5 * 60_000;
const FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), "floor.js");
const LIBRARY_FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), "library-floor.js");

const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

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
      120_000,
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
function statusKb(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.split(/\s+/)[1]) : 0;
}
const rssMb = (pid: number) => statusKb(pid, "VmRSS") / 1024;

/** inotify watches the process holds, from /proc/<pid>/fdinfo. */
function inotifyWatches(pid: number): number {
  let watches = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.includes("inotify")) continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    watches += info.split("\n").filter((l) => l.startsWith("inotify wd:")).length;
  }
  return watches;
}

/** Wall time and peak RSS of one CLI run (peak from /proc, polled every 20 ms). */
async function timedCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; peakMb: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, statusKb(child.pid!, "VmHWM"));
    } catch {
      // exited
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(poll);
  if (code !== 0) throw new Error(`${args.join(" ")} exited ${code}: ${stderr.slice(-2000)}`);
  return { ms: performance.now() - started, peakMb: round(peakKb / 1024) };
}

function addAgents(t: TestHome, count: number): void {
  for (let i = 0; i < count; i++) mkdirSync(t.agentDir(`agent-${String(i).padStart(5, "0")}`), { recursive: true });
}

/** The floor copier's latency for `dirs`, measured exactly like the daemon's. */
async function floorLatencies(t: TestHome, agents: number, count: number): Promise<number[]> {
  const credentials = path.join(t.claudeDir, ".credentials.json");
  const floor = new DaemonProcess(t, [credentials, path.join(t.stateDir, "agents")], { script: FLOOR });
  try {
    await floor.waitForEvent("daemon.ready", 30_000);
    return await rewriteLatencies(floor, t, agents, count);
  } finally {
    await floor.stop();
  }
}

/** Figures of one scale: the daemon's start, memory and watches, a rotation's latency, `sync`'s cost. */
async function scale(agents: number, rewrites: number) {
  const t = makeHome();
  try {
    t.writeCredentials();
    addAgents(t, agents);
    progress(`${agents} agents: \`sync\``);
    const sync = await timedCli(["sync"], t.env);
    progress(`${agents} agents: the daemon`);
    const spawned = performance.now();
    const d = new DaemonProcess(t);
    const ready = await d.waitForEvent("daemon.ready", 600_000);
    const readyMs = performance.now() - spawned;
    await sleep(500);
    const pid = d.child.pid!;
    const watches = inotifyWatches(pid);
    progress(`${agents} agents: ${rewrites} rotations`);
    const daemon = await rewriteLatencies(d, t, agents, rewrites);
    const rss = rssMb(pid);
    await d.stop();
    progress(`${agents} agents: the floor copier, ${rewrites} rotations`);
    const floor = await floorLatencies(t, agents, rewrites);
    return {
      agents,
      syncMs: round(sync.ms),
      syncPeakRssMb: sync.peakMb,
      readyMs: round(readyMs),
      firstSyncMsInsideDaemon: ready.firstSyncMs,
      rssAfterRotationsMb: round(rss),
      inotifyWatches: watches,
      watchesPerAgent: round(watches / agents),
      rotationMs: { n: daemon.length, p50: round(percentile(daemon, 50)), p99: round(percentile(daemon, 99)) },
      floorRotationMs: { p50: round(percentile(floor, 50)), p99: round(percentile(floor, 99)) },
      ratioToFloor: {
        p50: ratio(percentile(daemon, 50), percentile(floor, 50)),
        p99: ratio(percentile(daemon, 99), percentile(floor, 99)),
      },
    };
  } finally {
    t.cleanup();
  }
}

async function main(): Promise<void> {
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  const json = ONLY === undefined || ONLY === "json" ? await jsonEra() : undefined;
  const sqlite = ONLY === undefined || ONLY === "sqlite" ? await sqliteFigures(SQLITE) : undefined;
  const fleet =
    (ONLY === undefined || ONLY === "fleet") && FLEET_ROUNDS > 0 ? await fleetFigures(FLEET_ROUNDS) : undefined;
  const figures = { machine, ...json, ...(sqlite ? { sqlite } : {}), ...(fleet ? { fleet } : {}) };
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
}

/** The JSON generations' figures (auth-profiles.json stores), as ever. */
async function jsonEra() {
  const t = makeHome();
  try {
    t.writeCredentials();
    progress("starting the daemon (1 agent)");
    mkdirSync(t.agentDir("main"), { recursive: true });
    const spawned = performance.now();
    const d = new DaemonProcess(t);
    const ready = await d.waitForEvent("daemon.ready", 30_000);
    const startToFirstSync = performance.now() - spawned;
    await sleep(300);
    progress(`${REWRITES} atomic rewrites, 1 agent`);
    const one = await rewriteLatencies(d, t, 1, REWRITES);
    progress(`idle for ${IDLE_S} s (RSS, CPU), beside the library floor`);
    const pid = d.child.pid!;
    const libraryFloor = new DaemonProcess(t, [t.stateDir], { script: LIBRARY_FLOOR });
    await libraryFloor.waitForEvent("daemon.ready", 30_000);
    const floorPid = libraryFloor.child.pid!;
    const ticksBefore = cpuTicks(pid);
    const floorTicksBefore = cpuTicks(floorPid);
    await sleep(IDLE_S * 1000);
    const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"]).toString());
    const cpuPercent = (ticks: number) => (ticks / clockTicks / IDLE_S) * 100;
    const idleCpuPercent = cpuPercent(cpuTicks(pid) - ticksBefore);
    const idleRss = rssMb(pid);
    const idleWatches = inotifyWatches(pid);
    const floorIdleCpuPercent = cpuPercent(cpuTicks(floorPid) - floorTicksBefore);
    const floorIdleRss = rssMb(floorPid);
    await libraryFloor.stop();
    await d.stop();
    progress(`${REWRITES} atomic rewrites, 1 agent, the floor copier`);
    const floorOne = await floorLatencies(t, 1, REWRITES);

    const wide = await scale(WIDE_AGENTS, WIDE_REWRITES);
    const large = LARGE_AGENTS > 0 ? await scale(LARGE_AGENTS, 3) : undefined;

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

    const oneP50 = percentile(one, 50);
    const oneP99 = percentile(one, 99);
    const floorP50 = percentile(floorOne, 50);
    const floorP99 = percentile(floorOne, 99);
    const target = (value: number, limit: number) => ({ value, target: limit, ok: value <= limit });
    return {
      oneAgent: {
        rotationMs: { n: one.length, p50: round(oneP50), p99: round(oneP99), max: round(Math.max(...one)) },
        floorRotationMs: { p50: round(floorP50), p99: round(floorP99) },
        ratioToFloor: { p50: ratio(oneP50, floorP50), p99: ratio(oneP99, floorP99) },
        startToFirstSyncMs: { fromSpawn: round(startToFirstSync), insideDaemon: ready.firstSyncMs },
        idle: {
          seconds: IDLE_S,
          rssMb: round(idleRss),
          cpuPercentOfOneCore: round(idleCpuPercent),
          inotifyWatches: idleWatches,
          libraryFloor: { rssMb: round(floorIdleRss), cpuPercentOfOneCore: round(floorIdleCpuPercent) },
          rssRatioToLibraryFloor: ratio(idleRss, floorIdleRss),
        },
      },
      growth: [
        {
          agents: 1,
          rotationP50Ms: round(oneP50),
          floorP50Ms: round(floorP50),
          ratioToFloor: ratio(oneP50, floorP50),
          readyMs: round(startToFirstSync),
        },
        ...[wide, large]
          .filter((s) => s !== undefined)
          .map((s) => ({
            agents: s.agents,
            rotationP50Ms: s.rotationMs.p50,
            floorP50Ms: s.floorRotationMs.p50,
            ratioToFloor: s.ratioToFloor.p50,
            readyMs: s.readyMs,
            syncMs: s.syncMs,
            rssMb: s.rssAfterRotationsMb,
            watchesPerAgent: s.watchesPerAgent,
          })),
      ],
      wide,
      ...(large ? { large } : {}),
      cronDesign: {
        intervalMs: CRON_INTERVAL_MS,
        syncCommandMs: round(percentile(syncRuns, 50)),
        stalenessMeanMs: round(cronMean),
        stalenessRatioOverDaemon: Math.round(cronMean / oneP50),
        note: "modelled: the rewrite waits for the next 5-minute tick, then one measured `sync` run",
      },
      targets: {
        oneAgentP50RatioToFloor: target(ratio(oneP50, floorP50), 3),
        oneAgentP99RatioToFloor: target(ratio(oneP99, floorP99), 5),
        wideP50Ms: target(wide.rotationMs.p50, 300),
        idleRssRatioToLibraryFloor: target(ratio(idleRss, floorIdleRss), 1.15),
        idleCpuPercent: target(round(idleCpuPercent), 1),
        startToFirstSyncMs: target(round(startToFirstSync), 250),
        ...(large
          ? {
              largeSyncMs: target(large.syncMs, 10_000),
              largeReadyMs: target(large.readyMs, 15_000),
              largeRssMb: target(large.rssAfterRotationsMb, 150),
              largeWatchesPerAgent: target(large.watchesPerAgent, 2),
              largeRotationP99Ms: target(large.rotationMs.p99, 10_000),
            }
          : {}),
      },
    };
  } finally {
    t.cleanup();
  }
}

await main();
