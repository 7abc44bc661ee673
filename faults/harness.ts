/** Shared parts of the fault suite: result rows, worker processes, and everything printed, for the secrecy scan. */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const WORKERS = path.join(path.dirname(fileURLToPath(import.meta.url)), "workers");

export interface Row {
  scenario: string;
  metric: string;
  value: string | number;
  /** The requirement, e.g. "= 0"; empty for a figure that is only reported. */
  required: string;
  ok: boolean;
}

export interface Outcome {
  rows: Row[];
  /** Everything the project printed or wrote outside the stores and the source, for the secrecy scan. */
  outputs: string[];
  /** Every token planted or minted in the scenario. */
  planted: string[];
}

export function row(scenario: string, metric: string, value: string | number, required = "", ok = true): Row {
  return { scenario, metric, value, required, ok };
}

/** `metric` must equal `expected`. */
export function must(scenario: string, metric: string, value: string | number, expected: string | number): Row {
  return row(scenario, metric, value, `= ${expected}`, value === expected);
}

export function env(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Runs a worker script to completion and parses the JSON it prints. */
export function runWorker<T>(script: string, args: string[]): { done: Promise<T>; pid: number | undefined } {
  const child = spawn(process.execPath, [path.join(WORKERS, script), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const done = new Promise<T>((resolve, reject) =>
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${stderr.slice(-2000)}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${script} printed no JSON: ${stdout.slice(0, 500)} ${stderr.slice(-500)}`));
      }
    }),
  );
  return { done, pid: child.pid };
}

/**
 * How many cases of one scenario run at a time (FAULTS_CASE_CONCURRENCY, 3): each case has its own HOME and
 * daemon and spends most of its time waiting for that daemon's schedules, so a few side by side cost a 2-core
 * runner little.
 */
const CASE_CONCURRENCY = env("FAULTS_CASE_CONCURRENCY", 3);

/** Runs the cases a few at a time, gathering their rows (in the cases' order), outputs and planted tokens. */
export async function runCases<C>(
  cases: readonly C[],
  run: (c: C, outputs: string[], planted: string[]) => Promise<Row>,
): Promise<Outcome> {
  const outcome: Outcome = { rows: [], outputs: [], planted: [] };
  const rows: Row[] = new Array<Row>(cases.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) rows[i] = await run(cases[i]!, outcome.outputs, outcome.planted);
  };
  await Promise.all(Array.from({ length: Math.min(CASE_CONCURRENCY, cases.length) }, worker));
  outcome.rows.push(...rows);
  return outcome;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function progress(message: string): void {
  process.stderr.write(`faults: ${message}\n`);
}
