/**
 * The gateway's JSON store locks (`auth-profiles.json.lock`, a folder or a sidecar file) that outlived its 30 s
 * stale time: `doctor` names each with the command that removes it. Only an operator removes one: a gateway that
 * is merely slow may still hold it.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { formatRelative } from "../../core/duration.js";
import { shellQuote } from "../../core/terminal-text.js";
import { type Check, warn } from "../check.js";
import { GATEWAY_LOCK_STALE_MS } from "./directory-lock.js";

export async function staleLockChecks(agentDir: string, now: number): Promise<Check[]> {
  const checks: Check[] = [];
  const entries = await readdir(agentDir).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => e.endsWith(".json.lock"))) {
    const lock = path.join(agentDir, entry);
    const mtime = await stat(lock).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
    if (mtime !== undefined && now - mtime > GATEWAY_LOCK_STALE_MS) {
      const age = formatRelative(mtime, now).replace(" ago", "");
      const fix = `rmdir ${shellQuote(lock)}   (only if no gateway or sync is running)`;
      checks.push(warn("store lock", `${lock} is ${age} old, past the gateway's 30 s stale time`, fix));
    }
  }
  return checks;
}
