/**
 * Which process is which: whether a pid is alive, and who it is (its start time and command line), so a pid
 * file can prove that the process it names is the one that wrote it (pids are reused; a stale file may name any
 * live process). Linux reads /proc; elsewhere `ps` answers. Undefined means the process is gone or cannot be
 * seen, which proves nothing.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
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

function ps(pid: number, field: "lstart" | "command"): string | undefined {
  try {
    const out = execFileSync("ps", ["-o", `${field}=`, "-p", String(pid)], {
      encoding: "utf8",
      timeout: 5_000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** When the process started: clock ticks since boot on Linux (stat field 22), `ps` lstart elsewhere. */
export function processStartTime(pid: number): string | undefined {
  if (process.platform !== "linux") return ps(pid, "lstart");
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces or ")"; count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** The process's command line, its arguments joined by spaces. */
export function processCommand(pid: number): string | undefined {
  if (process.platform !== "linux") return ps(pid, "command");
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ") || undefined;
  } catch {
    return undefined;
  }
}

/** This process's user name; undefined for a uid with no passwd entry (a container's, or `setpriv --reuid`). */
export function osUserName(): string | undefined {
  try {
    return os.userInfo().username;
  } catch {
    return undefined;
  }
}

/** A uid as an admin reads it: `alice (uid 1000)`, or the bare uid when no user has it. */
export function userName(uid: number): string {
  try {
    return `${execFileSync("getent", ["passwd", String(uid)], { encoding: "utf8" }).split(":")[0]} (uid ${uid})`;
  } catch {
    return `uid ${uid}`;
  }
}
