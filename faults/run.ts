/**
 * `npm run test:faults`: the fault-injection and secrecy suite. Runs every scenario with real processes,
 * prints a summary table, and ends with "faults: N passed, M failed"; exit 1 when any requirement fails.
 * Counts: FAULTS_GATEWAYS (4), FAULTS_UNLOCKED (1), FAULTS_SYNCS (1000), FAULTS_CRASH_SYNCS (200),
 * FAULTS_CASE_CONCURRENCY (3); FAULTS_ONLY picks scenarios by number.
 */
import { writeFileSync } from "node:fs";
import { claudeMisbehaves } from "./claude-cli.js";
import { concurrentGateway } from "./concurrent.js";
import { crash } from "./crash.js";
import { diskFaults } from "./disk.js";
import { type Outcome, type Row, progress } from "./harness.js";
import { hostileInputs } from "./hostile.js";
import { secrecy } from "./secrecy.js";
import { localAttacker } from "./surface.js";

function table(rows: readonly Row[]): string {
  const cells = [
    ["scenario", "check", "result", "required", ""],
    ...rows.map((r) => [r.scenario, r.metric, String(r.value), r.required, r.ok ? "ok" : "FAIL"]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(cells[0]!), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.slice(1).map(line)].join(
    "\n",
  );
}

/** A scenario that throws is one failed row, not the end of the suite. */
async function attempt(name: string, scenario: () => Promise<Outcome>): Promise<Outcome> {
  progress(`scenario: ${name}`);
  const began = Date.now();
  try {
    return await scenario();
  } catch (err) {
    const full = String(err instanceof Error ? err.message : err);
    // The table keeps one line; the whole story (a daemon's log tail) goes to stderr for whoever debugs it.
    process.stderr.write(`faults: ${name} failed:\n${full}\n`);
    const message = full.split("\n")[0]!.slice(0, 300);
    return {
      rows: [{ scenario: name, metric: "scenario ran", value: message, required: "completes", ok: false }],
      outputs: [],
      planted: [],
    };
  } finally {
    progress(`${name} took ${((Date.now() - began) / 1000).toFixed(1)} s`);
  }
}

const started = Date.now();
/** FAULTS_ONLY="3,6" runs only those scenarios, for working on one; the full suite is the default. */
const only = process.env.FAULTS_ONLY?.split(",").map((n) => n.trim());
/**
 * Stages run one after another; the scenarios of a stage side by side, each with its own HOMEs and daemons.
 * The concurrent-gateway scenario runs alone: its gateway writers and reader spin flat out, and what it
 * measures (reads while we write) is its own. The secrecy scan comes last: it reads what every other printed.
 */
const stages: Array<Array<[string, () => Promise<Outcome>]>> = [
  [["1 concurrent gateway", concurrentGateway]],
  [
    ["2 crash (kill -9)", crash],
    ["3 hostile inputs", hostileInputs],
    ["4 claude misbehaves", claudeMisbehaves],
    ["5 disk and permissions", diskFaults],
    ["7 local attacker", localAttacker],
  ],
  [["6 secrecy", () => secrecy(outcomes)]],
];
const outcomes: Outcome[] = [];
for (const stage of stages) {
  const picked = stage.filter(([name]) => !only || only.includes(name.split(" ")[0]!));
  outcomes.push(...(await Promise.all(picked.map(([name, scenario]) => attempt(name, scenario)))));
}
const rows = outcomes.flatMap((o) => o.rows);
const failed = rows.filter((r) => !r.ok).length;
const summary = table(rows);
process.stdout.write(`\n${summary}\n\nfaults suite took ${Math.round((Date.now() - started) / 1000)} s\n`);
if (process.env.FAULTS_REPORT) writeFileSync(process.env.FAULTS_REPORT, `${summary}\n`);
process.stdout.write(`faults: ${rows.length - failed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
