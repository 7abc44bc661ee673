import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HELPERS = path.dirname(fileURLToPath(import.meta.url));

/** Starts a process holding the gateway lock on `file`; resolves once it holds it. */
export function holdLock(file: string, holdMs: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HELPERS, "lock-holder.js"), file, String(holdMs)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout.once("data", () => resolve(child));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`lock holder exited ${code}`)));
  });
}
