/** Temp HOMEs with real files, random tokens, and the real CLI run as a child process. */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile, type ExecFileException } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const BIN = path.join(REPO, "bin", "moltbot-auth-sync.js");

/** A fresh token every call, so a leak check can grep for exactly what a test planted. */
export function randomToken(kind: "oat" | "ort" = "oat"): string {
  return `sk-ant-${kind}01-${randomBytes(72).toString("base64url").slice(0, 90)}`;
}

export interface TestHome {
  root: string;
  home: string;
  stateDir: string;
  claudeDir: string;
  env: NodeJS.ProcessEnv;
  /** Every token this home planted, for leak checks. */
  planted: string[];
  agentDir(id: string): string;
  storePath(id: string): string;
  writeCredentials(options?: {
    expiresAt?: number;
    accessToken?: string;
    refreshToken?: string;
    extra?: Record<string, unknown>;
    /** More fields of `claudeAiOauth` (`refreshTokenExpiresAt`, …). */
    oauth?: Record<string, unknown>;
  }): { accessToken: string; refreshToken: string; expiresAt: number };
  writeStore(id: string, store: unknown): void;
  readStore(id: string): any;
  cleanup(): void;
}

export function makeHome(options: { stateName?: string } = {}): TestHome {
  const root = mkdtempSync(path.join(os.tmpdir(), "mas-test-"));
  const home = path.join(root, "home");
  const stateDir = path.join(home, options.stateName ?? ".openclaw");
  const claudeDir = path.join(home, ".claude");
  mkdirSync(stateDir, { recursive: true });
  mkdirSync(claudeDir, { recursive: true });
  const planted: string[] = [];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, ".config"),
    XDG_STATE_HOME: path.join(home, ".local", "state"),
  };
  const t: TestHome = {
    root,
    home,
    stateDir,
    claudeDir,
    env,
    planted,
    agentDir: (id) => path.join(stateDir, "agents", id, "agent"),
    storePath: (id) => path.join(t.agentDir(id), "auth-profiles.json"),
    writeCredentials(o = {}) {
      const accessToken = o.accessToken ?? randomToken("oat");
      const refreshToken = o.refreshToken ?? randomToken("ort");
      const expiresAt = o.expiresAt ?? Date.now() + 8 * 3_600_000;
      planted.push(accessToken, refreshToken);
      const body = {
        claudeAiOauth: {
          accessToken,
          refreshToken,
          expiresAt,
          scopes: ["user:inference", "user:profile"],
          subscriptionType: "max",
          ...o.oauth,
        },
        ...o.extra,
      };
      const tmp = path.join(t.claudeDir, `.credentials.json.tmp.${randomBytes(4).toString("hex")}`);
      writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 });
      // Atomic replace, as current `claude` does.
      renameSync(tmp, path.join(t.claudeDir, ".credentials.json"));
      return { accessToken, refreshToken, expiresAt };
    },
    writeStore(id, store) {
      mkdirSync(t.agentDir(id), { recursive: true });
      writeFileSync(t.storePath(id), typeof store === "string" ? store : JSON.stringify(store, null, 2), {
        mode: 0o600,
      });
    },
    readStore: (id) => JSON.parse(readFileSync(t.storePath(id), "utf8")),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
  return t;
}

/** The same home seen as another gateway's (config `stateDirs`): its state dir is `dir`. */
export function gatewayAt(t: TestHome, dir: string): TestHome {
  const g: TestHome = {
    ...t,
    stateDir: dir,
    agentDir: (id) => path.join(dir, "agents", id, "agent"),
    storePath: (id) => path.join(g.agentDir(id), "auth-profiles.json"),
    writeStore(id, store) {
      mkdirSync(g.agentDir(id), { recursive: true });
      writeFileSync(g.storePath(id), JSON.stringify(store), { mode: 0o600 });
    },
    readStore: (id) => JSON.parse(readFileSync(g.storePath(id), "utf8")),
  };
  return g;
}

/** Runs `fn` with a fresh temp HOME and removes it afterwards, whatever happens. */
export async function withHome<T>(fn: (t: TestHome) => Promise<T>, options?: { stateName?: string }): Promise<T> {
  const t = makeHome(options);
  try {
    return await fn(t);
  } finally {
    t.cleanup();
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI entry point. */
export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  uid?: number;
  gid?: number;
  cwd?: string;
  /** A program the CLI runs under, with its arguments before node's (GNU time, to measure it). */
  under?: string[];
  /** Another Node binary than this one (the gateway's Node 24, for node:sqlite). */
  node?: string;
  /** Another copy of our entry point (an install without one of its packages). */
  bin?: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const [file, ...before] = [...(options.under ?? []), options.node ?? process.execPath];
    const child = execFile(
      file,
      [...before, options.bin ?? BIN, ...args],
      {
        env,
        timeout: options.timeoutMs ?? 60_000,
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
      },
      (err: ExecFileException | null, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      },
    );
    // A CLI that stops reading early (a capped stdin) closes the pipe: EPIPE here is its answer, not ours to throw.
    child.stdin?.on("error", () => undefined);
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Asserts-friendly: which planted secrets (or any 12-char slice of one) appear in `text`. */
export function leakedTokens(text: string, planted: readonly string[]): string[] {
  return planted.filter((token) => {
    const body = token.replace(/^sk-ant-[a-z]{3}\d{2}-/, "");
    for (let i = 0; i + 12 <= body.length; i++) if (text.includes(body.slice(i, i + 12))) return true;
    return false;
  });
}
