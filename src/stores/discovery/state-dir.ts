/**
 * Which gateway state dir to write, resolved as the gateway resolves it (docs/stores.md), so that
 * we write where the gateway reads. The reason is kept for `status` and `doctor`.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expandHome } from "../../fs/home.js";

/** Env overrides, newest name first; OpenClaw dropped MOLTBOT_STATE_DIR but Moltbot reads it. */
export const STATE_DIR_ENV = ["OPENCLAW_STATE_DIR", "MOLTBOT_STATE_DIR", "CLAWDBOT_STATE_DIR"] as const;

/**
 * Default dirs in the order the newest gateway probes them: OpenClaw migrates a legacy dir to
 * `~/.openclaw` and leaves a symlink behind, so `~/.openclaw` wins whenever it exists.
 */
export const STATE_DIR_NAMES = [".openclaw", ".clawdbot", ".moltbot", ".moldbot"] as const;

export interface StateDirChoice {
  dir: string;
  /** Why this dir, e.g. "env OPENCLAW_STATE_DIR" or "~/.openclaw exists". */
  reason: string;
  /** Other existing default dirs that a gateway of another era might use instead. */
  alsoExisting: string[];
}

/** Returns undefined when nothing names a state dir and none of the defaults exists. */
export function resolveStateDir(
  configured: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): StateDirChoice | undefined {
  const home = env.HOME || os.homedir();
  const existing = STATE_DIR_NAMES.map((name) => path.join(home, name)).filter((dir) => existsSync(dir));
  const others = (dir: string) => existing.filter((d) => d !== dir);
  if (configured) {
    const dir = path.resolve(expandHome(configured, home));
    return { dir, reason: "--state-dir / config stateDir", alsoExisting: others(dir) };
  }
  for (const name of STATE_DIR_ENV) {
    const value = env[name]?.trim();
    if (value) {
      const dir = path.resolve(expandHome(value, home));
      return { dir, reason: `env ${name}`, alsoExisting: others(dir) };
    }
  }
  const [first] = existing;
  if (!first) return undefined;
  return { dir: first, reason: `~/${path.basename(first)} exists`, alsoExisting: others(first) };
}

/**
 * The state dir a gateway uses or will use: the one named or found, else `~/.openclaw`, where a gateway installed
 * later makes it. What is watched or made writable before the gateway is there.
 */
export function stateDirOrDefault(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolveStateDir(configured, env)?.dir ?? path.join(env.HOME || os.homedir(), STATE_DIR_NAMES[0]);
}
