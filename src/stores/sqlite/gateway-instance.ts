/**
 * Which gateway process runs on a state dir now. A running gateway holds `<state>/tmp/openclaw-<uid>/
 * gateway.state.lock`, a small JSON file naming its pid and a fresh `ownerId` per start (2026.9.6
 * `acquireGatewayLock`). A write the running gateway was not told of stays unseen only while that same process
 * runs: once it stopped or restarted, it read the stores anew.
 */
import path from "node:path";
import { readRegularFile } from "../../fs/read-file.js";

/** The lock is a few hundred bytes; anything larger is not the gateway's. */
const MAX_LOCK_BYTES = 64 * 1024;

export function gatewayLockFile(stateDir: string, uid = process.getuid?.()): string {
  return path.join(stateDir, "tmp", uid === undefined ? "openclaw" : `openclaw-${uid}`, "gateway.state.lock");
}

/** The running gateway's `ownerId`, when its lock names one whose pid is alive; undefined otherwise. */
export async function runningGatewayOwner(stateDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readRegularFile(gatewayLockFile(stateDir), { maxBytes: MAX_LOCK_BYTES, followSymlinks: false });
  } catch {
    return undefined;
  }
  let lock: unknown;
  try {
    lock = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof lock !== "object" || lock === null) return undefined;
  const { pid, ownerId } = lock as { pid?: unknown; ownerId?: unknown };
  if (typeof ownerId !== "string" || typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) return undefined;
  return alive(pid) ? ownerId : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
