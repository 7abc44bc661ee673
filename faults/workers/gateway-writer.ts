/**
 * Acts like the gateway on one store: `node gateway-writer.js <file> <counterId> <locked|unlocked> <stopFile>`.
 * Locked: proper-lockfile with the gateway's options, re-read, increment `usageStats[counterId].counter`,
 * write in place as the gateway's saveJsonFile does. Unlocked: the same without the lock, as the gateway's
 * upsert and migration paths do. Prints `{"done": n}` when `stopFile` appears.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import lockfile from "proper-lockfile";

const [file, counterId, mode, stopFile] = process.argv.slice(2) as [string, string, string, string];
const LOCK = {
  stale: 30_000,
  retries: { retries: 10, factor: 2, minTimeout: 100, maxTimeout: 10_000, randomize: true },
};

/** The real gateway treats an unparsable store as empty; this stand-in re-reads instead, so that what is measured is lost updates, not clobbering. */
async function readStore(): Promise<Record<string, any>> {
  for (let i = 0; ; i++) {
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      if (i > 2000) throw err;
      await sleep(1);
    }
  }
}

let done = 0;
while (!existsSync(stopFile)) {
  const release = mode === "locked" ? await lockfile.lock(file, LOCK) : undefined;
  try {
    const store = await readStore();
    store.usageStats ??= {};
    const stats = (store.usageStats[counterId] ??= {});
    stats.counter = (stats.counter ?? 0) + 1;
    writeFileSync(file, `${JSON.stringify(store, null, 2)}\n`);
    done++;
  } finally {
    await release?.();
  }
  await sleep(Math.random() * 8);
}
process.stdout.write(JSON.stringify({ done }));
