/**
 * `npm test` after the build and lint: the unit and end-to-end tests, then the interop tests and the fault suite
 * side by side. Those two share nothing (temp HOMEs each, the interop cache only read) and both mostly wait on
 * child processes; the unit tests run first, on their own, because many of them bound how soon the daemon
 * answers. Each part's output is printed whole when it ends, then every part's time; exit 1 if any part failed.
 *   node dist/test/suite.js [unit|interop|faults ...]   (all three by default)
 * SUITE_TEST_CONCURRENCY sets the unit tests' --test-concurrency (3).
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** `<dir>/*.test.js` and `<dir>/<sub>/*.test.js`, sorted, as the shell globs in the scripts expand them. */
function testFiles(dir: string, nested: boolean): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = path.join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith(".test.js")) files.push(file);
  }
  if (nested) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) files.push(...testFiles(path.join(dir, entry.name), false));
    }
  }
  return files;
}

interface Part {
  name: string;
  args: string[];
}

const concurrency = process.env.SUITE_TEST_CONCURRENCY ?? "3";
const PARTS: Record<string, Part> = {
  unit: {
    name: "unit and end-to-end tests",
    args: [
      "--test",
      `--test-concurrency=${concurrency}`,
      "--test-reporter=spec",
      ...testFiles(path.join(DIST, "test"), true),
    ],
  },
  // Two files at a time, newest gateway first: its file is the longest (about half of the part), so the two older
  // ones run beside it. The gateway's CLI keeps a core busy while it starts.
  interop: {
    name: "interop tests",
    args: [
      "--test",
      "--test-concurrency=2",
      "--test-reporter=spec",
      ...testFiles(path.join(DIST, "interop"), false).reverse(),
    ],
  },
  faults: { name: "fault suite", args: [path.join(DIST, "faults", "run.js")] },
};

interface Result {
  name: string;
  code: number | null;
  seconds: number;
}

function run(part: Part): Promise<Result> {
  const started = Date.now();
  process.stderr.write(`suite: ${part.name} started\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, part.args, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    child.on("close", (code) => {
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(`\n===== ${part.name}: exit ${code}, ${seconds.toFixed(1)} s =====\n`);
      process.stdout.write(Buffer.concat(chunks));
      resolve({ name: part.name, code, seconds });
    });
  });
}

const picked = process.argv.slice(2);
const want = (name: string) => picked.length === 0 || picked.includes(name);
const started = Date.now();
const results: Result[] = [];
if (want("unit")) results.push(await run(PARTS.unit!));
results.push(...(await Promise.all(["interop", "faults"].filter(want).map((name) => run(PARTS[name]!)))));
process.stdout.write("\n");
for (const r of results)
  process.stdout.write(`suite: ${r.name}: ${r.code === 0 ? "ok" : "FAILED"} in ${r.seconds.toFixed(1)} s\n`);
process.stdout.write(`suite: took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exitCode = results.every((r) => r.code === 0) ? 0 : 1;
