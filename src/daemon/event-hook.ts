/**
 * The optional `onEvent` hook: an argv run on `needs_login`, `recovered`, `refresh.failed`, `token.expiring`,
 * `token.expired`, `login.expiring` and `login.ended`, so an operator can page themselves. It gets the facts in its
 * environment, never a secret, and it cannot block or crash the daemon, nor outlive it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import os from "node:os";
import type { Logger } from "pino";
import { messageOf } from "../core/errors.js";
import { escapeControl } from "../core/terminal-text.js";
import { scrubSecrets } from "../log/logger.js";

export const HOOK_EVENTS = [
  "needs_login",
  "recovered",
  "refresh.failed",
  "token.expiring",
  "token.expired",
  "login.expiring",
  "login.ended",
] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

const HOOK_TIMEOUT_MS = 30_000;

/** An agent as the hook and the logs name it: its id, and its state dir when several gateways are served. */
export interface AgentRef {
  agent: string;
  stateDir?: string;
}

export const agentRef = (agent: string, stateDir: string | undefined): AgentRef =>
  stateDir === undefined ? { agent } : { agent, stateDir };

export interface HookFacts {
  profile: string;
  reason: string;
  agents: readonly AgentRef[];
}

/** What a hook that outlives its timeout, or the daemon's stop, gets between SIGTERM and SIGKILL. */
const HOOK_KILL_GRACE_MS = 2_000;

/**
 * A value as the hook's environment carries it: one line, nothing a terminal or a log acts on, and reversible.
 * `\` is written `\\`, newline, CR and tab `\n`, `\r`, `\t`, any other control character `\xNN` or `\uNNNN`;
 * in AGENTS a comma inside an id is `\,`, so only a bare comma separates two ids.
 */
export function hookValue(text: string, separator?: string): string {
  const escaped = escapeControl(text.replace(/\\/g, "\\\\"));
  return separator === undefined ? escaped : escaped.replaceAll(separator, `\\${separator}`);
}

/**
 * The hooks the daemon runs. Each runs in a process group of its own, so that ending it (after its timeout, or at
 * the daemon's stop) ends whatever it started too: SIGTERM to the group, then SIGKILL to the group.
 */
export class EventHooks {
  private readonly running = new Set<Hook>();
  private stopped = false;

  constructor(private readonly options: { timeoutMs?: number; graceMs?: number } = {}) {}

  /** Runs the hook once per state dir the agents are in, with `STATE_DIR` naming it (when several are served). */
  async run(argv: readonly string[] | undefined, event: HookEvent, facts: HookFacts, log: Logger): Promise<void> {
    if (!argv || argv.length === 0 || this.stopped) return;
    const dirs = [...new Set(facts.agents.map((a) => a.stateDir))];
    if (dirs.length === 0) dirs.push(undefined);
    await Promise.all(dirs.map((dir) => this.runOnce(argv, event, facts, dir, log)));
  }

  /** Ends every hook still running, with what it started; resolves once each group's leader has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.running].map((hook) => hook.end()));
  }

  private async runOnce(
    argv: readonly string[],
    event: HookEvent,
    facts: HookFacts,
    stateDir: string | undefined,
    log: Logger,
  ): Promise<void> {
    const agents = facts.agents.filter((a) => a.stateDir === stateDir).map((a) => hookValue(a.agent, ","));
    const hook = new Hook(
      argv,
      {
        // Exactly the documented facts, plus PATH and HOME so a script can run: never the daemon's own environment,
        // which may hold CLAUDE_CODE_OAUTH_TOKEN or whatever else the service manager was given.
        EVENT: event,
        PROFILE: hookValue(facts.profile),
        REASON: hookValue(scrubSecrets(facts.reason)),
        AGENTS: agents.join(","),
        ...(stateDir === undefined ? {} : { STATE_DIR: hookValue(stateDir) }),
        PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
        HOME: process.env.HOME ?? os.homedir(),
      },
      this.options.graceMs ?? HOOK_KILL_GRACE_MS,
    );
    this.running.add(hook);
    const timer = setTimeout(() => void hook.end("timed out"), this.options.timeoutMs ?? HOOK_TIMEOUT_MS);
    timer.unref();
    const failure = await hook.done;
    clearTimeout(timer);
    this.running.delete(hook);
    if (failure && !(this.stopped && hook.ended))
      log.warn(
        { event: "hook.failed", hookEvent: event },
        `onEvent hook for ${event}${stateDir === undefined ? "" : ` (${stateDir})`} failed: ` + scrubSecrets(failure),
      );
  }
}

/** One run of the hook: its group, its end, and why it failed (undefined when it exited 0). */
class Hook {
  readonly done: Promise<string | undefined>;
  ended: string | undefined;
  private readonly child: ChildProcess;
  private exited = false;

  constructor(
    argv: readonly string[],
    env: NodeJS.ProcessEnv,
    private readonly graceMs: number,
  ) {
    const [file, ...args] = argv;
    this.child = spawn(file!, args, { env, stdio: "ignore", detached: true });
    this.done = new Promise((resolve) => {
      this.child.once("error", (err) => {
        this.exited = true;
        resolve(`${file}: ${messageOf(err)}`);
      });
      this.child.once("exit", (code, signal) => {
        this.exited = true;
        if (this.ended) resolve(`${this.ended}; its process group was ended`);
        else if (signal) resolve(`killed by ${signal}`);
        else resolve(code === 0 ? undefined : `exit code ${code}`);
      });
    });
  }

  /** SIGTERM to the whole group, SIGKILL to it if the leader has not exited within the grace. */
  async end(why = "the daemon stops"): Promise<void> {
    if (this.exited || this.ended || this.child.pid === undefined) return;
    this.ended = why;
    signalGroup(this.child.pid, "SIGTERM");
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.graceMs).unref());
    await Promise.race([this.done, grace]);
    // The leader may be gone while what it started lives on in the group: SIGKILL reaches them all.
    signalGroup(this.child.pid, "SIGKILL");
    await this.done;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already; the leader alone, should it not lead one, still gets the signal.
    try {
      process.kill(pid, signal);
    } catch {
      // Gone too.
    }
  }
}
