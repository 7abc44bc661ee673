/**
 * The daemon's own files in `$XDG_STATE_HOME/moltbot-auth-sync/`: a pid file that makes it single-instance,
 * and a state file that `status` reads to say whether the daemon runs and when it last acted.
 */
import { mkdir, open, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AuthSyncError, errnoCode } from "../errors.js";
import { readRegularFile } from "../fs/read-file.js";
import { isAlive } from "../pid-alive.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, writeFileAtomically } from "../stores/atomic-write.js";

export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), ".local", "state");
  return path.join(base, "moltbot-auth-sync");
}

export const pidFilePath = (env?: NodeJS.ProcessEnv) => path.join(runtimeDir(env), "daemon.pid");
export const stateFilePath = (env?: NodeJS.ProcessEnv) => path.join(runtimeDir(env), "state.json");
export const lockJournalPath = (env?: NodeJS.ProcessEnv) => path.join(runtimeDir(env), "held-locks");

/** Our own files are never symlinks; one there was planted. */
const OWN_FILE = { followSymlinks: false };

export async function readPid(file: string): Promise<number | undefined> {
  const text = await readRegularFile(file, OWN_FILE).catch(() => "");
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Takes the pid file or throws naming the running daemon; a pid file whose process is gone is taken over. */
export async function acquirePidFile(file: string): Promise<() => Promise<void>> {
  await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, "wx", PRIVATE_FILE_MODE);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => {
        if ((await readPid(file)) === process.pid) await rm(file, { force: true });
      };
    } catch (err) {
      if (errnoCode(err) !== "EEXIST") throw err;
    }
    const pid = await readPid(file);
    if (pid !== undefined && pid !== process.pid && isAlive(pid)) {
      throw new AuthSyncError(`another moltbot-auth-sync daemon is running (pid ${pid}, ${file})`, "daemon.running");
    }
    await rm(file, { force: true });
  }
  throw new AuthSyncError(`cannot take the pid file ${file}`, "daemon.pidfile");
}

/** What the daemon last did, for `status`. Only fingerprints, never tokens. */
export interface DaemonState {
  pid: number;
  startedAt: number;
  updatedAt: number;
  lastSyncAt?: number;
  lastSyncSummary?: string;
  lastError?: { at: number; event: string; message: string };
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

/** Whether a daemon runs (its pid file names a live process) and what it last recorded. */
export async function readDaemonStatus(env: NodeJS.ProcessEnv = process.env): Promise<DaemonStatus> {
  const pid = await readPid(pidFilePath(env));
  const state = await readDaemonState(stateFilePath(env));
  const running = pid !== undefined && isAlive(pid);
  return { ...state, running, ...(running ? { pid } : {}) };
}
