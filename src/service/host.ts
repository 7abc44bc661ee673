/**
 * The facts a unit is rendered from: absolute paths to node, our entry point and `claude` as found now
 * (service managers give a bare PATH), and the home and folders of the user the service runs as.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config.js";
import { AuthSyncError } from "../errors.js";
import { claudeConfigDir } from "../sources/claude-cli-file.js";
import { agentsRoot, discoverAgents, readGatewayConfig } from "../stores/agents.js";
import { resolveStateDir } from "../stores/state-dir.js";

export const ENTRY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/moltbot-auth-sync.js");
const BASE_PATH = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/** Finds an executable the way a shell would; undefined when it is not on PATH. */
export function which(command: string, envPath = process.env.PATH ?? ""): string | undefined {
  const candidates = command.includes("/") ? [path.resolve(command)] : envPath.split(":").filter(Boolean).map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface ServiceUser {
  name: string;
  uid: number;
  home: string;
}

export function currentUser(env: NodeJS.ProcessEnv = process.env): ServiceUser {
  const info = os.userInfo();
  return { name: info.username, uid: info.uid, home: env.HOME || info.homedir };
}

/** Looks a user up in the passwd database (getent covers NSS sources too). */
export function lookupUser(name: string): ServiceUser {
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(name)) throw new AuthSyncError(`--system ${name}: not a user name`, "usage");
  let line: string;
  try {
    line = execFileSync("getent", ["passwd", name], { encoding: "utf8" }).trim();
  } catch {
    throw new AuthSyncError(`--system ${name}: no such user on this host`, "usage");
  }
  const [, , uid, , , home] = line.split(":");
  return { name, uid: Number(uid), home: home! };
}

export interface HostFacts {
  node: string;
  entry: string;
  /** `claude` as found now, or undefined (the daemon then cannot refresh). */
  claude: string | undefined;
  path: string;
}

export function hostFacts(config: Config, env: NodeJS.ProcessEnv = process.env): HostFacts {
  const claude = which(config.claudePath, env.PATH);
  const dirs = [...(claude ? [path.dirname(claude)] : []), path.dirname(process.execPath), ...BASE_PATH];
  return { node: process.execPath, entry: realpathSync(ENTRY), claude, path: [...new Set(dirs)].join(":") };
}

/**
 * The folders a system unit for `user` must be able to write: the gateway's agent folders (new agents
 * appear under `<state>/agents`; `agents.list[].agentDir` may point elsewhere), our state folder, the Claude
 * config folder (claude rewrites its credentials there) and claude's global config file beside it.
 */
export async function readWritePaths(config: Config, user: ServiceUser): Promise<string[]> {
  const env = { HOME: user.home };
  const stateDir = resolveStateDir(config.stateDir, env)?.dir ?? path.join(user.home, ".openclaw");
  const root = agentsRoot(stateDir);
  const elsewhere = (await discoverAgents(stateDir, await readGatewayConfig(stateDir, env), env)).map((a) => a.dir).filter((dir) => !dir.startsWith(root + path.sep));
  const claudeDir = claudeConfigDir(config.claudeConfigDir, env);
  return [root, ...elsewhere, path.join(user.home, ".local", "state", "moltbot-auth-sync"), claudeDir, path.join(user.home, ".claude.json")];
}
