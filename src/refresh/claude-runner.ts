/**
 * Runs the `claude` CLI as a child: the refresh command and `claude auth status --json`. Every run has
 * a timeout, then SIGTERM, then SIGKILL 5 s later, because without a network `claude -p` hangs.
 */
import os from "node:os";
import type { Config } from "../config/config.js";
import { osUserName } from "../core/process-identity.js";
import { scrubSecrets, scrubbedTail } from "../log/logger.js";
import { assertTrusted, runsAsRoot } from "../fs/trust.js";
import { which } from "../service/host.js";
import { messageOf } from "../core/errors.js";

const KILL_GRACE_MS = 5_000;
const SHUTDOWN_GRACE_MS = 1_000;
/** A chatty or broken CLI cannot fill memory; only the tail is kept for classification. */
const MAX_OUTPUT_BYTES = 256 * 1024;
const OUTPUT_TAIL_CHARS = 2_000;

export interface ClaudeRun {
  command: string;
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  /** Set when the child could not be started at all, e.g. ENOENT. */
  spawnError?: string;
  /** The end of stdout and stderr together, with anything token-shaped replaced by a fingerprint. */
  output: string;
  durationMs: number;
}

/** The argv to run: `claude` as the first word of a refresh command means `claudePath`. */
export function refreshArgv(config: Config, command: string[] = config.refreshCommand): [string, string[]] {
  const [first, ...rest] = command;
  return [first === "claude" ? config.claudePath : first!, rest];
}

/**
 * What the CLI needs to find its login, reach the network and print: nothing else of ours reaches it. Above all
 * not `CLAUDE_CODE_OAUTH_TOKEN`: with it set, `claude` uses that setup-token and never refreshes the login we
 * asked it to refresh. Other secrets the daemon's environment happens to hold stay with the daemon.
 */
const CLAUDE_ENV_NAMES = new Set(["HOME", "USER", "LOGNAME", "PATH", "LANG", "TERM", "TMPDIR", "TZ", "SHELL"]);
const CLAUDE_ENV_PATTERNS = [
  /^LC_[A-Z_]+$/,
  /^(HTTPS?|ALL|NO)_PROXY$/i,
  /^NODE_EXTRA_CA_CERTS$/,
  /^SSL_CERT_(FILE|DIR)$/,
];

/** Service managers give a bare environment; the CLI finds its store only through HOME and USER. */
export function claudeEnv(config: Config, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const child: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (CLAUDE_ENV_NAMES.has(name) || CLAUDE_ENV_PATTERNS.some((p) => p.test(name))))
      child[name] = value;
  }
  child.HOME = env.HOME || os.homedir();
  const user = env.USER || osUserName();
  if (user) child.USER = user;
  const configDir = config.claudeConfigDir ?? env.CLAUDE_CONFIG_DIR;
  if (configDir) child.CLAUDE_CONFIG_DIR = configDir;
  return child;
}

export async function runClaude(
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal },
): Promise<ClaudeRun> {
  const started = Date.now();
  const untrusted = untrustedProgram(file, options.env.PATH);
  if (untrusted) return { command: file, timedOut: false, spawnError: untrusted, output: "", durationMs: 0 };
  // Loaded on first use: execa is the largest module we have, and most hours no refresh runs.
  const { execa } = await import("execa");
  const child = execa(file, args, {
    env: options.env,
    extendEnv: false,
    // At end of file at once: `claude mcp serve` serves stdin until it closes, so it exits after its refresh.
    stdin: "ignore",
    all: true,
    reject: false,
    timeout: options.timeoutMs,
    forceKillAfterDelay: KILL_GRACE_MS,
    maxBuffer: MAX_OUTPUT_BYTES,
  });
  // On shutdown there is no time for the 5 s grace: SIGTERM, then SIGKILL after one second.
  const onAbort = () => {
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), SHUTDOWN_GRACE_MS).unref();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const result = await child;
  options.signal?.removeEventListener("abort", onAbort);
  // Past maxBuffer the output stops mid-word: a token cut there is a piece no pattern knows, so it goes.
  const whole = typeof result.all === "string" ? result.all : "";
  const all = result.isMaxBuffer ? withoutCutWord(whole) : whole;
  const spawnFailed = result.failed && result.exitCode === undefined && !result.timedOut && result.signal === undefined;
  return {
    command: [file, ...args].join(" "),
    ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
    ...(result.signal ? { signal: result.signal } : {}),
    timedOut: result.timedOut,
    ...(spawnFailed ? { spawnError: scrubSecrets(result.shortMessage ?? "could not start") } : {}),
    output: scrubbedTail(all, OUTPUT_TAIL_CHARS),
    durationMs: Date.now() - started,
  };
}

const WORD_CHAR = /[A-Za-z0-9._~+/=%-]/;

/** `text` without the word its end cuts: a scan back from the end, linear where a `[…]+$` regex is quadratic. */
export function withoutCutWord(text: string): string {
  let end = text.length;
  while (end > 0 && WORD_CHAR.test(text[end - 1]!)) end--;
  return text.slice(0, end);
}

export interface AuthStatus {
  loggedIn: boolean;
  authMethod?: string;
}

/** `claude auth status --json`: offline and fast; tells "not logged in" apart from "refresh failed". */
export async function claudeAuthStatus(
  config: Config,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<AuthStatus | undefined> {
  const run = await runClaude(config.claudePath, ["auth", "status", "--json"], {
    env,
    timeoutMs: 15_000,
    ...(signal ? { signal } : {}),
  });
  const start = run.output.indexOf("{");
  if (start < 0) return undefined;
  try {
    const parsed = JSON.parse(run.output.slice(start)) as { loggedIn?: unknown; authMethod?: unknown };
    if (typeof parsed.loggedIn !== "boolean") return undefined;
    return {
      loggedIn: parsed.loggedIn,
      ...(typeof parsed.authMethod === "string" ? { authMethod: parsed.authMethod } : {}),
    };
  } catch {
    return undefined;
  }
}

/** As root, why `file` (as PATH finds it) must not run: it, or a folder above it, is another user's. */
function untrustedProgram(file: string, envPath: string | undefined): string | undefined {
  if (!runsAsRoot()) return undefined;
  try {
    assertTrusted(which(file, envPath ?? "") ?? file, { action: "run", followLast: true });
    return undefined;
  } catch (err) {
    return messageOf(err);
  }
}
