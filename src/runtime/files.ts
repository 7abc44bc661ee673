/**
 * The daemon's own files in `$XDG_STATE_HOME/moltbot-auth-sync/`: a pid file that makes it single-instance,
 * and a state file that `status` reads to say whether the daemon runs and when it last acted.
 */
import type { FleetView } from "../fleet/member.js";
import { mkdir, open, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AuthSyncError, errnoCode } from "../core/errors.js";
import { readRegularFile } from "../fs/read-file.js";
import { processCommand, processStartTime } from "../core/process-identity.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, writeFileAtomically } from "../fs/atomic-write.js";

export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), ".local", "state");
  return path.join(base, "moltbot-auth-sync");
}

export const pidFilePath = (env?: NodeJS.ProcessEnv) => path.join(runtimeDir(env), "daemon.pid");
export const stateFilePath = (env?: NodeJS.ProcessEnv) => path.join(runtimeDir(env), "state.json");
export const lockJournalPath = (env?: NodeJS.ProcessEnv) => path.join(runtimeDir(env), "held-locks");
/**
 * Which profiles we recovered from a failed refresh, and digests that prove one was the login's
 * (pass/recovery-book.ts).
 */
export const recoveryFilePath = (env?: NodeJS.ProcessEnv) => path.join(runtimeDir(env), "recovery.json");

/** Our own files are never symlinks; one there was planted. */
const OWN_FILE = { followSymlinks: false };

export interface PidRecord {
  pid: number;
  /** The process's start time when it wrote the file (`processStartTime`); absent in files of older versions. */
  startTime?: string;
}

/** The pid file's content: the pid on the first line, its start time on the second. */
export async function readPid(file: string): Promise<PidRecord | undefined> {
  const [first, second] = (await readRegularFile(file, OWN_FILE).catch(() => "")).split("\n");
  const pid = Number(first?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, ...(second?.trim() ? { startTime: second.trim() } : {}) };
}

/**
 * Whether the record names our daemon, still running: a pid alone proves nothing, since a stale file may
 * name any process that got the pid since. The start time must match and the command line be ours.
 */
export function isOurDaemon(record: PidRecord): boolean {
  if (record.startTime !== undefined && processStartTime(record.pid) !== record.startTime) return false;
  return /moltbot-auth-sync/.test(processCommand(record.pid) ?? "");
}

/** The pid of the running daemon that the pid file names, or undefined when none is proven to run. */
export async function runningDaemonPid(file: string): Promise<number | undefined> {
  const record = await readPid(file);
  return record && isOurDaemon(record) ? record.pid : undefined;
}

/** Takes the pid file or throws naming the running daemon; a file that names no daemon of ours is taken over. */
export async function acquirePidFile(file: string): Promise<() => Promise<void>> {
  await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, "wx", PRIVATE_FILE_MODE);
      await handle.writeFile(`${process.pid}\n${processStartTime(process.pid) ?? ""}\n`);
      await handle.close();
      return async () => {
        if ((await readPid(file))?.pid === process.pid) await rm(file, { force: true });
      };
    } catch (err) {
      if (errnoCode(err) !== "EEXIST") throw err;
    }
    const record = await readPid(file);
    if (record && record.pid !== process.pid && isOurDaemon(record)) {
      const running = `another moltbot-auth-sync daemon is running (pid ${record.pid}, ${file})`;
      throw new AuthSyncError(running, "daemon.running");
    }
    await rm(file, { force: true });
  }
  throw new AuthSyncError(`cannot take the pid file ${file}`, "daemon.pidfile");
}

/** What the daemon last did, for `status`. Only fingerprints, never tokens. */
/** What the daemon last said of a login's end (daemon/login-end.ts), so a restart does not say it again. */
export interface LoginEndTold {
  event: "login.expiring" | "login.ended";
  endsAt: number;
  at: number;
}

export interface DaemonState {
  pid: number;
  startedAt: number;
  updatedAt: number;
  lastSyncAt?: number;
  lastSyncSummary?: string;
  /** The last warn or error of this daemon's run; `clearedAt` once that problem ended. */
  lastError?: { at: number; event: string; message: string; clearedAt?: number };
  /** The first login's next refresh and source (the only login's, without `logins` configured). */
  nextRefreshAt?: number;
  source?: { fingerprint: string; expiresAt: number };
  /** With `logins` configured: the same facts for every login, in the configured order. */
  logins?: LoginState[];
  /** Per login's profile, what was last said of its end (daemon/login-end.ts), kept across restarts. */
  loginEndTold?: Record<string, LoginEndTold>;
  /** With `metrics` configured: whether the endpoint serves, and why not. */
  metrics?: MetricsState;
  /** With `fleet` configured: the fleet as this host last saw it (fleet/member.ts). */
  fleet?: FleetView;
}

export interface MetricsState {
  listen: string;
  serving: boolean;
  /** The URL served. */
  url?: string;
  /** Why it does not serve, and how many binds failed in a row (it is retried with backoff). */
  why?: string;
  failures?: number;
}

export interface LoginState {
  profileId: string;
  nextRefreshAt?: number;
  source?: { fingerprint: string; expiresAt: number };
}

export async function writeDaemonState(file: string, state: DaemonState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  await writeFileAtomically(file, `${JSON.stringify(state, null, 2)}\n`);
}

export async function readDaemonState(file: string): Promise<DaemonState | undefined> {
  try {
    return JSON.parse(await readRegularFile(file, OWN_FILE)) as DaemonState;
  } catch {
    return undefined;
  }
}

export interface DaemonStatus extends Partial<DaemonState> {
  running: boolean;
}

/** Whether a daemon runs (its pid file names our live daemon) and what it last recorded. */
export async function readDaemonStatus(env: NodeJS.ProcessEnv = process.env): Promise<DaemonStatus> {
  const pid = await runningDaemonPid(pidFilePath(env));
  const state = await readDaemonState(stateFilePath(env));
  return { ...state, running: pid !== undefined, ...(pid !== undefined ? { pid } : {}) };
}
