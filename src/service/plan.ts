/**
 * What `service install|uninstall` will do, as data: files to write or remove, then commands to run.
 * `--dry-run` prints it; otherwise it is carried out in order, stopping at the first failing command.
 */
import { access, constants, mkdir, rm, rmdir, writeFile } from "node:fs/promises";
import { readRegularFile } from "../fs/read-file.js";
import path from "node:path";
import { AuthSyncError, messageOf } from "../core/errors.js";

export interface PlannedFile {
  path: string;
  content: string;
}

export interface Step {
  argv: string[];
  /** A step that may fail without stopping the rest (e.g. stopping a unit that is not loaded). */
  mayFail?: boolean;
  /** What to tell the admin when it fails. */
  hint?: string;
}

export interface ServicePlan {
  write: PlannedFile[];
  remove: string[];
  steps: Step[];
  /** Things the admin should know, printed after the plan runs (or with --dry-run). */
  notes: string[];
  /**
   * What tells the service manager to forget a failed install: `fresh` runs before the files are taken
   * back, and only when none existed before (a re-install keeps the old unit enabled); `after` runs always.
   */
  undo?: { fresh: Step[]; after: Step[] };
}

export type Runner = (argv: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

export const execaRunner: Runner = async (argv) => {
  const { execa } = await import("execa");
  const [file, ...args] = argv;
  const r = await execa(file!, args, { reject: false, timeout: 60_000, stdin: "ignore" });
  const spawnError = r.exitCode === undefined ? (r.shortMessage ?? "could not start") : "";
  return { exitCode: r.exitCode ?? 127, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") || spawnError };
};

/** One entry per printed line; a unit's own lines are indented under its path. */
export function describePlan(plan: ServicePlan): string[] {
  const lines: string[] = [];
  for (const file of plan.write)
    lines.push(
      `write ${file.path}:`,
      ...file.content
        .trimEnd()
        .split("\n")
        .map((l) => `    ${l}`),
    );
  for (const file of plan.remove) lines.push(`remove ${file}`);
  for (const step of plan.steps) lines.push(`run   ${step.argv.join(" ")}${step.mayFail ? "   (may fail)" : ""}`);
  return lines;
}

/** A file the plan wrote, and how to take it back: its old content, or the folder the write created. */
interface Written {
  path: string;
  previous: string | undefined;
  createdDir: string | undefined;
}

/**
 * Carries the plan out; a failing command stops it with that command's own message and the hint, after
 * the files it wrote are taken back (old content restored, new files removed), so no half install stays.
 */
export async function executePlan(plan: ServicePlan, run: Runner, log: (line: string) => void): Promise<void> {
  const written: Written[] = [];
  try {
    for (const file of plan.write) {
      const previous = await readRegularFile(file.path).catch(() => undefined);
      const createdDir = await mkdir(path.dirname(file.path), { recursive: true });
      written.push({ path: file.path, previous, createdDir });
      await writeFile(file.path, file.content, { mode: 0o644 });
      log(`wrote ${file.path}`);
    }
    await runSteps(plan, run, log);
  } catch (err) {
    if (written.length === 0 || !(err instanceof AuthSyncError)) throw err;
    const fresh = written.every((file) => file.previous === undefined);
    const before = fresh ? await runQuietly(plan.undo?.fresh ?? [], run) : [];
    const undone = [...before, await takeBack(written), ...(await runQuietly(plan.undo?.after ?? [], run))];
    throw new AuthSyncError(`${err.message}; ${undone.join("; ")}`, err.code, err.exitCode, err.hint);
  }
}

/** Runs undo steps whatever they return; says which failed. */
async function runQuietly(steps: Step[], run: Runner): Promise<string[]> {
  const said: string[] = [];
  for (const step of steps) {
    const result = await run(step.argv);
    said.push(result.exitCode === 0 ? `ran ${step.argv.join(" ")}` : `${step.argv.join(" ")} failed too`);
  }
  return said;
}

/** Undoes the writes, newest first; says what it did and what it could not. */
async function takeBack(written: Written[]): Promise<string> {
  const done: string[] = [];
  const left: string[] = [];
  for (const file of [...written].reverse()) {
    try {
      if (file.previous !== undefined) {
        await writeFile(file.path, file.previous, { mode: 0o644 });
        done.push(`restored ${file.path}`);
      } else {
        await rm(file.path, { force: true });
        done.push(`removed ${file.path}`);
        await removeEmptyDirs(path.dirname(file.path), file.createdDir);
      }
    } catch (err) {
      left.push(`${file.path} (${messageOf(err)})`);
    }
  }
  return [...done, ...(left.length ? [`left ${left.join(", ")}: remove by hand`] : [])].join("; ");
}

/** Removes the folders a write created, deepest first, only while they are empty. */
async function removeEmptyDirs(dir: string, createdDir: string | undefined): Promise<void> {
  if (!createdDir) return;
  for (let at = dir; at === createdDir || at.startsWith(createdDir + path.sep); at = path.dirname(at)) {
    if (
      !(await rmdir(at).then(
        () => true,
        () => false,
      ))
    )
      return;
  }
}

async function runSteps(plan: ServicePlan, run: Runner, log: (line: string) => void): Promise<void> {
  for (const file of plan.remove) {
    const exists = await access(file, constants.F_OK).then(
      () => true,
      () => false,
    );
    await rm(file, { recursive: true, force: true });
    if (exists) log(`removed ${file}`);
  }
  for (const step of plan.steps) {
    const result = await run(step.argv);
    if (result.exitCode === 0) {
      log(`ran ${step.argv.join(" ")}`);
      continue;
    }
    const message = (result.stderr || result.stdout).trim().split("\n")[0] ?? "";
    if (step.mayFail) {
      log(`ran ${step.argv.join(" ")} (exit ${result.exitCode}, ignored: ${message})`);
      continue;
    }
    const failed = `${step.argv.join(" ")} failed (exit ${result.exitCode}): ${message}`;
    throw new AuthSyncError(failed, "service.command", 1, step.hint);
  }
}
