/** Drives the real daemon process: `run` on a temp HOME with a fake `claude` first on PATH. */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BIN, type TestHome } from "./env.js";

const FAKE_CLAUDE = path.join(path.dirname(fileURLToPath(import.meta.url)), "fake-claude.js");

export interface LogRecord {
  level: string;
  event: string;
  msg: string;
  [key: string]: unknown;
}

/** Puts a fake `claude` first on PATH for this home; returns its control folder. */
export function installFakeClaude(t: TestHome, mode = "refresh"): string {
  const bin = path.join(t.root, "bin");
  const control = path.join(t.home, ".fake-claude");
  mkdirSync(bin, { recursive: true });
  mkdirSync(control, { recursive: true });
  writeFileSync(path.join(bin, "claude"), `#!/bin/sh\nexec "${process.execPath}" "${FAKE_CLAUDE}" "$@"\n`);
  chmodSync(path.join(bin, "claude"), 0o755);
  writeFileSync(path.join(control, "mode"), mode);
  t.env.PATH = `${bin}:${process.env.PATH}`;
  return control;
}

export function fakeClaudeRuns(control: string): Array<{ what: string; pid: number; at: number; args: string }> {
  let text: string;
  try {
    text = readFileSync(path.join(control, "runs.log"), "utf8");
  } catch {
    return [];
  }
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [what, pid, at, ...args] = line.split(" ");
      return { what: what!, pid: Number(pid), at: Number(at), args: args.join(" ") };
    });
}

/** The refresh runs the fake CLI started (`auth status` and `--version` are not refreshes), in order. */
export function fakeClaudeRefreshRuns(control: string): string[] {
  return fakeClaudeRuns(control)
    .filter((r) => r.what === "start" && !r.args.startsWith("auth ") && r.args !== "--version")
    .map((r) => r.args);
}

/** Tokens the fake CLI minted, for leak checks. */
export function fakeClaudeTokens(control: string): string[] {
  try {
    return readFileSync(path.join(control, "planted.log"), "utf8").trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

export class DaemonProcess {
  readonly child: ChildProcess;
  readonly records: LogRecord[] = [];
  stdout = "";
  stderr = "";
  private waiters: Array<() => void> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /**
   * `script`, when given, is run with `args` instead of the CLI's `run` (the bench's floor copier); `node`, another
   * Node binary than this one.
   */
  constructor(
    t: TestHome,
    args: string[] = [],
    options: { uid?: number; gid?: number; script?: string; node?: string } = {},
  ) {
    const { script, node, ...ids } = options;
    this.child = spawn(node ?? process.execPath, script ? [script, ...args] : [BIN, ...args, "run"], {
      env: t.env,
      stdio: ["ignore", "pipe", "pipe"],
      ...ids,
    });
    let partial = "";
    this.child.stdout!.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      this.stdout += text;
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        try {
          this.records.push(JSON.parse(line));
        } catch {
          this.records.push({ level: "raw", event: "raw", msg: line });
        }
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString("utf8")));
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  events(event: string): LogRecord[] {
    return this.records.filter((r) => r.event === event);
  }

  /**
   * Waits until a record matching `predicate` has been logged after `from` records. The default wait is long: a
   * daemon on a loaded 2-core runner once took over 10 s to print its first line, and a record that comes ends the
   * wait at once.
   */
  async waitFor(predicate: (r: LogRecord) => boolean, timeoutMs = 30_000, from = 0): Promise<LogRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.slice(from).find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for a log record; got:\n${this.stdout.slice(-4000)}\nstderr:\n${this.stderr}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForEvent(event: string, timeoutMs?: number, from?: number): Promise<LogRecord> {
    return this.waitFor((r) => r.event === event, timeoutMs, from);
  }

  /**
   * Waits until the daemon has done every pass asked for so far, logged after `from` records: what an event
   * before that could have changed is then on disk and in the log. Needs `logLevel: "debug"`; something after
   * `from` must ask for a pass.
   */
  waitForIdle(from: number, timeoutMs = 20_000): Promise<LogRecord> {
    return this.waitFor((r) => r.event === "sync.idle", timeoutMs, from);
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }
}

/** A clock for the daemon's parts that moves only when told: timers fire in order as it advances. */
export class FakeClock {
  private time: number;
  private nextId = 1;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, delayMs: number): number {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, delayMs), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** When the timers pending now fire. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Moves time on by `ms`, firing each timer due on the way at its own time, and letting promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
    }
    this.time = end;
    await settle();
  }
}

/** Lets pending promise callbacks run (no timers, no real waiting). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
