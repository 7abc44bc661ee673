/**
 * Scenario 1, concurrent gateway, for every store format: gateway-like processes increment their own counters
 * in the store under that format's gateway lock while the daemon's store writer syncs alternating credentials
 * and a reader parses the store non-stop. Three phases keep each figure attributable:
 *   A  our writer and the reader alone: every parse failure is ours;
 *   B  plus the locked gateway writers: every lost update is ours;
 *   C  (json-v1 only) plus writers that skip the lock, as some gateway paths of that era do: their damage is
 *      measured, not prevented. The split era's unlocked paths are not known; in the SQLite era every write is
 *      a transaction, so there is nothing to skip.
 * json-v1 runs FAULTS_SYNCS syncs per phase; split and sqlite a quarter of that, enough to cross every lock many
 * times (the transaction is one implementation; what differs per format is its lock and its files).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { adapterFor } from "../src/stores/adapter-for.js";
import type { StoreFormat } from "../src/stores/discovery/generation.js";
import { makeHome, type TestHome } from "../test/helpers/env.js";
import { stateDbPath, writeStateDb } from "../test/helpers/sqlite-store.js";
import { type Outcome, type Row, env, must, progress, row, runWorker } from "./harness.js";

const NAME = "1 concurrent gateway";

interface Synced {
  synced: number;
  failed: number;
  lastToken: string;
  reasons: string[];
}

interface PhaseResult {
  synced: Synced;
  seconds: number;
  reads: { reads: number; failures: number };
  /** Per writer: how many increments it made, and how many of them the store lacks. */
  writers: Array<{ locked: boolean; done: number; lost: number }>;
  finalIsLast: boolean;
}

/** How each format's store is made, which profile id it takes, and what the workers are pointed at. */
interface Era {
  format: StoreFormat;
  profileId: string;
  create(t: TestHome): void;
  /** What the gateway writer works on, and what the reader parses. */
  writerStore(t: TestHome): string;
  readerFile(t: TestHome): string;
}

const ERAS: Era[] = [
  {
    format: "json-v1",
    profileId: "anthropic:claude-cli",
    create: (t) => t.writeStore("main", { version: 1, profiles: {} }),
    writerStore: (t) => t.storePath("main"),
    readerFile: (t) => t.storePath("main"),
  },
  {
    format: "split",
    profileId: "anthropic:claude-cli",
    create(t) {
      t.writeStore("main", { version: 1, profiles: {} });
      writeFileSync(path.join(t.agentDir("main"), "auth-state.json"), JSON.stringify({ version: 1 }));
    },
    writerStore: (t) => t.agentDir("main"),
    readerFile: (t) => t.storePath("main"),
  },
  {
    format: "sqlite",
    // This generation never takes anthropic:claude-cli; the opt-in token profile is what we write.
    profileId: "anthropic:login",
    create(t) {
      writeStateDb(t, { store: { version: 1, profiles: {} }, state: { version: 1 } });
      mkdirSync(t.agentDir("main"), { recursive: true });
    },
    writerStore: stateDbPath,
    readerFile: stateDbPath,
  },
];

async function phase(
  t: TestHome,
  era: Era,
  name: string,
  syncs: number,
  locked: number,
  unlocked: number,
): Promise<PhaseResult> {
  const stop = path.join(t.root, `stop-${era.format}-${name}`);
  const ids = [
    ...Array.from({ length: locked }, (_, i) => ({ id: `gw-${name}-locked-${i}`, locked: true })),
    ...Array.from({ length: unlocked }, (_, i) => ({ id: `gw-${name}-unlocked-${i}`, locked: false })),
  ];
  const store = era.writerStore(t);
  const writers = ids.map((w) =>
    runWorker<{ done: number }>("gateway-writer.js", [era.format, store, w.id, w.locked ? "locked" : "unlocked", stop]),
  );
  const reader = runWorker<{ reads: number; failures: number }>("reader.js", [era.format, era.readerFile(t), stop]);
  const started = Date.now();
  const args = [era.format, t.agentDir("main"), String(syncs), era.profileId];
  const synced = await runWorker<Synced>("syncer.js", args).done;
  const seconds = (Date.now() - started) / 1000;
  writeFileSync(stop, "");
  const done = await Promise.all(writers.map((w) => w.done));
  const reads = await reader.done;
  const final = await adapterFor({ format: era.format, reason: "" }, t.stateDir).read(t.agentDir("main"));
  return {
    synced,
    seconds,
    reads,
    writers: ids.map((w, i) => ({
      locked: w.locked,
      done: done[i]!.done,
      lost: done[i]!.done - ((final?.usageStats?.[w.id]?.counter as number | undefined) ?? 0),
    })),
    finalIsLast: (final?.profiles[era.profileId] as { token?: string } | undefined)?.token === synced.lastToken,
  };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

async function eraRows(era: Era, syncs: number, gateways: number, unlocked: number): Promise<Row[]> {
  const t = makeHome();
  const rows: Row[] = [];
  const name = `${NAME}, ${era.format}`;
  try {
    era.create(t);
    progress(`${name}: A, ${syncs} syncs with a reader`);
    const a = await phase(t, era, "a", syncs, 0, 0);
    rows.push(must(name, "A: reader parse failures caused by our writes", a.reads.failures, 0));
    rows.push(row(name, "A: reads while we wrote", a.reads.reads));

    progress(`${name}: B, ${syncs} syncs with ${gateways} locked gateway writers and a reader`);
    const b = await phase(t, era, "b", syncs, gateways, 0);
    const why = b.synced.reasons.length ? `; ${b.synced.reasons.join("; ")}` : "";
    rows.push(
      row(
        name,
        "B: credentials synced (failed)",
        `${b.synced.synced} (${b.synced.failed}) in ${b.seconds.toFixed(1)} s${why}`,
        `≥ ${syncs}, 0 failed`,
        b.synced.synced >= syncs && b.synced.failed === 0,
      ),
    );
    rows.push(row(name, "B: locked gateway updates", sum(b.writers.map((w) => w.done))));
    rows.push(must(name, "B: lost locked updates", sum(b.writers.map((w) => w.lost)), 0));
    rows.push(must(name, "B: final credential is the last one synced", String(b.finalIsLast), "true"));
    // JSON gateways write in place, so a reader may see half a file; SQLite readers never do.
    const inPlace = era.format === "sqlite" ? "= 0" : "measured";
    rows.push(
      row(
        name,
        `B: reader parse failures (${era.format === "sqlite" ? "transactions" : "gateway writes in place"})`,
        `${b.reads.failures} of ${b.reads.reads}`,
        inPlace,
        era.format !== "sqlite" || b.reads.failures === 0,
      ),
    );
    if (era.format !== "json-v1") return rows;

    const cSyncs = Math.max(50, Math.round(syncs / 4));
    progress(`${name}: C, ${cSyncs} syncs with ${gateways} locked and ${unlocked} unlocked gateway writers`);
    const c = await phase(t, era, "c", cSyncs, gateways, unlocked);
    const lockedC = c.writers.filter((w) => w.locked);
    const unlockedC = c.writers.filter((w) => !w.locked);
    const lostOf = (ws: typeof lockedC) => `${sum(ws.map((w) => w.lost))}/${sum(ws.map((w) => w.done))}`;
    rows.push(
      row(
        name,
        "C: updates lost to unlocked writers (locked, unlocked)",
        `${lostOf(lockedC)}, ${lostOf(unlockedC)}`,
        "measured: not ours to prevent",
      ),
    );
    rows.push(row(name, "C: final credential is the last one synced", String(c.finalIsLast), "measured"));
    return rows;
  } finally {
    t.cleanup();
  }
}

export async function concurrentGateway(): Promise<Outcome> {
  const gateways = env("FAULTS_GATEWAYS", 4);
  const unlocked = env("FAULTS_UNLOCKED", 1);
  const syncs = env("FAULTS_SYNCS", 1000);
  const rows: Row[] = [];
  for (const era of ERAS) {
    const started = Date.now();
    const eraSyncs = era.format === "json-v1" ? syncs : Math.max(50, Math.round(syncs / 4));
    rows.push(...(await eraRows(era, eraSyncs, gateways, unlocked)));
    rows.push(row(`${NAME}, ${era.format}`, "time taken", `${((Date.now() - started) / 1000).toFixed(1)} s`));
  }
  return { rows, outputs: [], planted: [] };
}
