/** Bind mounts, for a volume mounted over a state dir after the daemon started, for real. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Whether this host lets us bind-mount (root with CAP_SYS_ADMIN). */
export function canMount(): boolean {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mas-mount-"));
  try {
    mkdirSync(path.join(dir, "a"));
    mkdirSync(path.join(dir, "b"));
    execFileSync("mount", ["--bind", path.join(dir, "a"), path.join(dir, "b")], { stdio: "ignore" });
    execFileSync("umount", [path.join(dir, "b")], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
