import { errnoCode } from "./errors.js";

/** Whether a process with this pid exists (EPERM means it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === "EPERM";
  }
}
