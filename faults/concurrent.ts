/**
 * Scenario 1, concurrent gateway: gateway-like processes increment their own counters in the store under the
 * gateway's lock while the daemon's store writer syncs alternating credentials and a reader parses the store
 * non-stop. Three phases keep each figure attributable:
 *   A  our writer and the reader alone: every parse failure is ours;
 *   B  plus the locked gateway writers: every lost update is ours;
 *   C  plus writers that skip the lock, as some gateway paths do: their damage is measured, not prevented.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { makeHome, type TestHome } from "../test/helpers/env.js";
import { type Outcome, type Row, env, must, progress, row, runWorker } from "./harness.js";

const ID = "anthropic:claude-cli";
const NAME = "1 concurrent gateway";

interface Synced {
  synced: number;
  failed: number;
  lastToken: string;
}

interface PhaseResult {
  synced: Synced;
  seconds: number;
  reads: { reads: number; failures: number };
  /** Per writer: how many increments it made, and how many of them the store lacks. */
  writers: Array<{ locked: boolean; done: number; lost: number }>;
  finalIsLast: boolean;
}

async function phase(t: TestHome, name: string, syncs: number, locked: number, unlocked: number): Promise<PhaseResult> {
  const store = t.storePath("main");
  const stop = path.join(t.root, `stop-${name}`);
  const ids = [
    ...Array.from({ length: locked }, (_, i) => ({ id: `gw-${name}-locked-${i}`, locked: true })),
    ...Array.from({ length: unlocked }, (_, i) => ({ id: `gw-${name}-unlocked-${i}`, locked: false })),
  ];
  const writers = ids.map((w) =>
    runWorker<{ done: number }>("gateway-writer.js", [store, w.id, w.locked ? "locked" : "unlocked", stop]),
  );
  const reader = runWorker<{ reads: number; failures: number }>("reader.js", [store, stop]);
  const started = Date.now();
  const synced = await runWorker<Synced>("syncer.js", [t.agentDir("main"), String(syncs)]).done;
  const seconds = (Date.now() - started) / 1000;
  writeFileSync(stop, "");
  const done = await Promise.all(writers.map((w) => w.done));
  const reads = await reader.done;
  const final = t.readStore("main");
  return {
    synced,
    seconds,
    reads,
    writers: ids.map((w, i) => ({
      locked: w.locked,
      done: done[i]!.done,
      lost: done[i]!.done - ((final.usageStats?.[w.id]?.counter as number | undefined) ?? 0),
    })),
    finalIsLast: final.profiles?.[ID]?.token === synced.lastToken,
  };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

export async function concurrentGateway(): Promise<Outcome> {
  const gateways = env("FAULTS_GATEWAYS", 4);
  const unlocked = env("FAULTS_UNLOCKED", 1);
  const syncs = env("FAULTS_SYNCS", 1000);
  const t = makeHome();
  const rows: Row[] = [];
  try {
    t.writeStore("main", { version: 1, profiles: {} });
    progress(`${NAME}: A, ${syncs} syncs with a reader`);
    const a = await phase(t, "a", syncs, 0, 0);
    rows.push(must(NAME, "A: reader parse failures caused by our writes", a.reads.failures, 0));
    rows.push(row(NAME, "A: reads while we wrote", a.reads.reads));

    progress(`${NAME}: B, ${syncs} syncs with ${gateways} locked gateway writers and a reader`);
    const b = await phase(t, "b", syncs, gateways, 0);
    rows.push(
      row(
        NAME,
        "B: credentials synced (failed)",
        `${b.synced.synced} (${b.synced.failed}) in ${b.seconds.toFixed(1)} s`,
        `≥ ${syncs}, 0 failed`,
        b.synced.synced >= syncs && b.synced.failed === 0,
      ),
    );
    rows.push(row(NAME, "B: locked gateway updates", sum(b.writers.map((w) => w.done))));
    rows.push(must(NAME, "B: lost locked updates", sum(b.writers.map((w) => w.lost)), 0));
    rows.push(must(NAME, "B: final credential is the last one synced", String(b.finalIsLast), "true"));
    rows.push(
      row(
        NAME,
        "B: reader parse failures (gateway writes in place)",
        `${b.reads.failures} of ${b.reads.reads}`,
        "measured",
      ),
    );

    const cSyncs = Math.max(50, Math.round(syncs / 4));
    progress(`${NAME}: C, ${cSyncs} syncs with ${gateways} locked and ${unlocked} unlocked gateway writers`);
    const c = await phase(t, "c", cSyncs, gateways, unlocked);
    const lockedC = c.writers.filter((w) => w.locked);
    const unlockedC = c.writers.filter((w) => !w.locked);
    rows.push(
      row(
        NAME,
        "C: updates lost to unlocked writers (locked, unlocked)",
        `${sum(lockedC.map((w) => w.lost))}/${sum(lockedC.map((w) => w.done))}, ${sum(unlockedC.map((w) => w.lost))}/${sum(unlockedC.map((w) => w.done))}`,
        "measured: not ours to prevent",
      ),
    );
    rows.push(row(NAME, "C: final credential is the last one synced", String(c.finalIsLast), "measured"));
    return { rows, outputs: [], planted: [] };
  } finally {
    t.cleanup();
  }
}
