/**
 * The optional `onEvent` hook: an argv run on `needs_login`, `recovered`, `refresh.failed`, `token.expiring`,
 * `token.expired`, `login.expiring` and `login.ended`, so an operator can page themselves. It gets the facts in its
 * environment, never a secret, and it cannot block or crash the daemon.
 */
import os from "node:os";
import type { Logger } from "pino";
import { messageOf } from "../core/errors.js";
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

/**
 * Runs the hook once per state dir the agents are in, with `STATE_DIR` naming it (when several gateways are
 * served), so AGENTS holds ids of one gateway only: every gateway has a `main`.
 */
export async function runEventHook(
  argv: readonly string[] | undefined,
  event: HookEvent,
  facts: HookFacts,
  log: Logger,
): Promise<void> {
  if (!argv || argv.length === 0) return;
  const dirs = [...new Set(facts.agents.map((a) => a.stateDir))];
  if (dirs.length === 0) dirs.push(undefined);
  await Promise.all(dirs.map((dir) => runOnce(argv, event, facts, dir, log)));
}

async function runOnce(
  argv: readonly string[],
  event: HookEvent,
  facts: HookFacts,
  stateDir: string | undefined,
  log: Logger,
): Promise<void> {
  const agents = facts.agents.filter((a) => a.stateDir === stateDir).map((a) => a.agent);
  const [file, ...args] = argv;
  const { execa } = await import("execa");
  const result = await execa(file!, args, {
    // Exactly the documented facts, plus PATH and HOME so a script can run: never the daemon's own environment,
    // which may hold CLAUDE_CODE_OAUTH_TOKEN or whatever else the service manager was given.
    env: {
      EVENT: event,
      PROFILE: facts.profile,
      REASON: scrubSecrets(facts.reason),
      AGENTS: agents.join(","),
      ...(stateDir === undefined ? {} : { STATE_DIR: stateDir }),
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: process.env.HOME ?? os.homedir(),
    },
    extendEnv: false,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
    reject: false,
    timeout: HOOK_TIMEOUT_MS,
  }).catch((err: unknown) => ({ failed: true, shortMessage: messageOf(err) }));
  if (result.failed)
    log.warn(
      { event: "hook.failed", hookEvent: event },
      `onEvent hook for ${event}${stateDir === undefined ? "" : ` (${stateDir})`} failed: ` +
        scrubSecrets(result.shortMessage ?? ""),
    );
}
