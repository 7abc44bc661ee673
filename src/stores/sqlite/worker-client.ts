/**
 * Where SQLite runs: a child process per gateway state dir that this one can abandon. The SQLite library is
 * native and synchronous, and a hostile database (a trigger that cross-joins, a generated column of 500 MB, a
 * FIFO in a database's place) can keep it busy for good; nothing interrupts it. So no SQLite call is made here:
 * each request to the child has a deadline, and when it passes the child is killed (SIGKILL frees its memory
 * and its locks with it) and the request fails in one line naming the database and what it was doing. A child
 * process, not a worker thread: a thread stuck in native code can be neither stopped nor joined, and Node joins
 * its worker threads when the process exits, so a stuck one would hang every exit.
 */
import { type ChildProcess, fork } from "node:child_process";
import { StoreError, type StoreProblem } from "../../core/errors.js";

/** Past the gateway's 5 s busy timeout (driver.ts), with room for a loaded machine: longer is a stuck database. */
export const SQLITE_DEADLINE_MS = 15_000;

/** A child nobody asked anything of for this long is ended; the next request starts another. */
const IDLE_MS = 10_000;

/** What failed in the child, as it crosses the process boundary. */
export interface WireError {
  message: string;
  code?: string;
  problem?: StoreProblem;
}

export type WireReply = { id: number; value: unknown } | { id: number; error: WireError };

export interface WorkerOptions {
  /** The child's script; the SQLite operations unless a test gives another. */
  script?: URL;
  deadlineMs?: number;
}

/** An error from the child; `code` is SQLite's (SQLITE_BUSY…) so callers can tell a busy database. */
export class SqliteRequestError extends StoreError {
  constructor(
    message: string,
    problem: StoreProblem,
    readonly sqliteCode?: string,
  ) {
    super(message, problem);
  }
}

interface Pending {
  file: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** The IPC channel can be unref'd too: without it an idle child would keep this process alive. */
const channelOf = (child: ChildProcess) => child.channel as { ref(): void; unref(): void } | null | undefined;

const live = new Set<SqliteWorker>();

export class SqliteWorker {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idle: NodeJS.Timeout | undefined;
  private readonly script: URL;
  private readonly deadlineMs: number;
  private sessions = 0;

  constructor(options: WorkerOptions = {}) {
    this.script = options.script ?? new URL("./worker.js", import.meta.url);
    this.deadlineMs = options.deadlineMs ?? SQLITE_DEADLINE_MS;
  }

  /**
   * Runs `op` in the child; `file` and `doing` name the request in the error if it passes its deadline. Outside
   * a session it is a session of its own: the child keeps nothing open after it.
   */
  call<T>(op: string, args: unknown, file: string, doing: string, deadlineMs = this.deadlineMs): Promise<T> {
    const request = () => this.request<T>(op, args, file, doing, deadlineMs);
    return this.sessions > 0 ? request() : this.session(request);
  }

  private request<T>(op: string, args: unknown, file: string, doing: string, deadlineMs: number): Promise<T> {
    const child = this.start();
    const id = this.nextId++;
    clearTimeout(this.idle);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const seconds = deadlineMs / 1000;
        const stuck = `SQLite did not finish ${doing} within ${seconds} s`;
        this.end(new StoreError(`${file}: ${stuck}; abandoned`, "locked"), id, `${stuck} in ${file}`);
      }, deadlineMs);
      this.pending.set(id, { file, resolve: resolve, reject, timer });
      child.ref();
      channelOf(child)?.ref();
      child.send({ id, op, args }, (err) => {
        if (err) this.end(new StoreError(`${file}: the SQLite process is gone (${err.message})`, "locked"));
      });
    });
  }

  /**
   * Runs `fn`, whose requests share the child's connections (connections.ts) with every session overlapping it,
   * as a pass's agents do; when the last one ends the child closes them, so no database is held open between
   * passes and none is left with a -wal file of ours.
   */
  async session<T>(fn: () => Promise<T>): Promise<T> {
    this.sessions++;
    try {
      return await fn();
    } finally {
      if (--this.sessions === 0 && this.child) {
        // A child that fails here is ended by call(); what it held went with it.
        const rest = this.request("rest", {}, "its databases", "closing its connections", this.deadlineMs);
        await rest.catch(() => undefined);
      }
    }
  }

  /**
   * Kills the child, failing whatever it was asked: request `culprit` with `reason`, the others (queued behind
   * it) naming their own database and what held them up.
   */
  end(
    reason: Error = new StoreError("the SQLite process was stopped", "locked"),
    culprit?: number,
    why?: string,
  ): void {
    const child = this.child;
    this.child = undefined;
    clearTimeout(this.idle);
    live.delete(this);
    if (child) {
      child.removeAllListeners();
      child.on("error", () => undefined);
      child.unref();
      child.kill("SIGKILL");
    }
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer);
      this.pending.delete(id);
      request.reject(why && id !== culprit ? new StoreError(`${request.file}: not read; ${why}`, "locked") : reason);
    }
  }

  private start(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(this.script, [], {
      serialization: "advanced",
      stdio: ["ignore", "ignore", "ignore", "ipc"],
      execArgv: [],
      // It opens the paths it is sent and needs nothing of ours: no token or config variable reaches it.
      env: {},
    });
    child.on("message", (reply: WireReply) => this.settle(reply));
    child.on("error", (err) => this.end(new StoreError(`the SQLite process failed: ${err.message}`, "locked")));
    child.on("exit", (code, signal) => {
      if (this.child === child) this.end(new StoreError(`the SQLite process ended (${signal ?? code})`, "locked"));
    });
    this.child = child;
    live.add(this);
    return child;
  }

  private settle(reply: WireReply): void {
    const request = this.pending.get(reply.id);
    if (!request) return;
    clearTimeout(request.timer);
    this.pending.delete(reply.id);
    if ("error" in reply) {
      const { message, problem, code } = reply.error;
      request.reject(new SqliteRequestError(message, problem ?? "invalid", code));
    } else request.resolve(reply.value);
    if (this.pending.size === 0 && this.child) {
      // Idle: it must not keep the process alive, and is ended if nothing more comes.
      this.child.unref();
      channelOf(this.child)?.unref();
      this.idle = setTimeout(() => this.end(), IDLE_MS).unref();
    }
  }
}

/** Every child still running: a stop kills them, so no database holds the daemon's exit. */
export function endSqliteWorkers(): number {
  const count = live.size;
  for (const worker of [...live]) worker.end();
  return count;
}

const byStateDir = new Map<string, SqliteWorker>();

/** The one child of a gateway state dir: one hostile database never blocks another gateway's. */
export function workerFor(stateDir: string): SqliteWorker {
  let worker = byStateDir.get(stateDir);
  if (!worker) byStateDir.set(stateDir, (worker = new SqliteWorker()));
  return worker;
}
