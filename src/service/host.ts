/**
 * The facts a unit is rendered from: absolute paths to node, our entry point and `claude` as found now
 * (service managers give a bare PATH), and the home and folders of the user the service runs as.
 */
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import whichPackage from "which";
import type { Config } from "../config/config.js";
import { AuthSyncError, errnoCode, messageOf } from "../core/errors.js";
import { osUserName, userName } from "../core/process-identity.js";
import { claudeConfigDir } from "../sources/claude-cli-file.js";
import { loginConfigs } from "../config/logins.js";
import { declared } from "../stores/adapter-for.js";
import { agentsRoot, discoverAgents, readGatewayConfig } from "../stores/discovery/agents.js";
import { configuredStateDirs } from "../stores/discovery/gateway.js";
import { stateDirOrDefault } from "../stores/discovery/state-dir.js";
import { checkUnitPath } from "./units.js";

export const ENTRY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/moltbot-auth-sync.js");
const BASE_PATH = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/**
 * Finds an executable the way a shell would (the `which` package); undefined when it is not on PATH. A name with
 * a slash is resolved against the working directory; an empty PATH finds nothing (`which` would fall back to
 * our own PATH, which is not the one asked about).
 */
export function which(command: string, envPath = process.env.PATH ?? ""): string | undefined {
  // An empty entry would mean the working directory to `which`; a shell's PATH search skips it, and so do we.
  const dirs = envPath.split(":").filter(Boolean).join(":");
  if (!command.includes("/") && dirs === "") return undefined;
  const found = whichPackage.sync(command, { nothrow: true, path: dirs });
  if (found === null) return undefined;
  return command.includes("/") ? path.resolve(found) : found;
}

export interface ServiceUser {
  name: string;
  uid: number;
  home: string;
}

export function currentUser(env: NodeJS.ProcessEnv = process.env): ServiceUser {
  const uid = process.getuid?.() ?? -1;
  return { name: osUserName() ?? String(uid), uid, home: env.HOME || os.homedir() };
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
  /** Another user's service: the `claude` on our own PATH, which was not used for it. */
  ownClaude?: string;
}

/** Where a user's own `claude` is when no shell of theirs is asked: Claude Code's installers and npm's user prefix. */
const userBinDirs = (home: string) =>
  [".local/bin", ".claude/local", ".npm-global/bin", "bin"].map((dir) => path.join(home, dir));

/**
 * The paths a unit runs with. For another user's service (`--system USER` as root), `claude` is looked up as that
 * user would find it, not on our PATH: root's `claude` (often under /root, which the user cannot even enter) is
 * not theirs, and its folder must not reach their unit.
 */
export function hostFacts(config: Config, env: NodeJS.ProcessEnv = process.env, user?: ServiceUser): HostFacts {
  const other = user !== undefined && user.uid !== (process.getuid?.() ?? -1);
  const searched = other ? [...userBinDirs(user.home), ...BASE_PATH].join(":") : env.PATH;
  const claude = which(config.claudePath, searched);
  const own = other ? which(config.claudePath, env.PATH) : undefined;
  const dirs = [...(claude ? [path.dirname(claude)] : []), path.dirname(process.execPath), ...BASE_PATH];
  return {
    node: process.execPath,
    entry: realpathSync(ENTRY),
    claude,
    path: [...new Set(dirs)].join(":"),
    ...(own && own !== claude ? { ownClaude: own } : {}),
  };
}

/**
 * The folders a system unit for `user` must be able to write: the gateway's agent folders (new agents
 * appear under `<state>/agents`; `agents.list[].agentDir` may point elsewhere), our state folder, the Claude
 * config folder (claude rewrites its credentials there) and claude's global config file beside it.
 * They come from the user's own files and go into a root-owned unit, so each must be a plain path
 * (`unitPathProblem`) that the user owns (`checkOwnedBy`); anything else is refused before a file is written.
 */
export async function readWritePaths(config: Config, user: ServiceUser, warnings: string[] = []): Promise<string[]> {
  const env = { HOME: user.home };
  // Every gateway's agents (config stateDirs), or the one state dir, there yet or not.
  const stateDirs = configuredStateDirs(config, env) ?? [stateDirOrDefault(config.stateDir, env)];
  const roots = stateDirs.map(agentsRoot);
  const named = new Map<string, string>();
  for (const stateDir of stateDirs) {
    const root = agentsRoot(stateDir);
    const gatewayConfig = await readGatewayConfig(stateDir, env);
    for (const agent of await discoverAgents(stateDir, gatewayConfig, env, warnings)) {
      if (agent.dir.startsWith(root + path.sep)) continue;
      const where = `agent ${agent.id} in ${gatewayConfig?.file ?? stateDir}: agentDir`;
      named.set(checkUnitPath(agent.dir, "systemd", where), where);
    }
  }
  // claude rewrites every login's credentials in its own config dir.
  const claudeDirs = new Set(loginConfigs(config).map((login) => claudeConfigDir(login.claudeConfigDir, env)));
  const runtime = path.join(user.home, ".local", "state", "moltbot-auth-sync");
  // What each store generation writes beyond the agent folders (StoreGeneration.serviceWrites).
  const storeWrites = declared((g) => g.serviceWrites);
  const sharedStores = stateDirs.flatMap((dir) => storeWrites.flatMap((writes) => writes.inStateDir(dir)));
  const ours = [...roots, ...sharedStores, runtime, ...claudeDirs, path.join(user.home, ".claude.json")];
  for (const p of ours) checkUnitPath(p, "systemd", "ReadWritePaths");
  const paths = [...roots, ...named.keys(), ...ours.slice(roots.length)];
  for (const p of paths) await checkOwnedBy(p, user, named.get(p) ?? "ReadWritePaths");
  // A folder the gateway makes on first use under a shared, sticky host folder (/tmp) needs that folder writable;
  // it is not checked for the user's ownership.
  return [...paths, ...new Set(storeWrites.flatMap((writes) => writes.onHost))];
}

/**
 * A path is writable by the unit only if `user` owns it: checked with lstat, so a symlink is refused
 * rather than followed, and the folders above it must have no symlink either. A path not there yet counts as its
 * nearest existing parent's, which must be the user's.
 */
export async function checkOwnedBy(p: string, user: ServiceUser, what: string): Promise<void> {
  let at = p;
  for (;;) {
    const info = await lstat(at).catch((err: unknown) => {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return undefined;
      throw new AuthSyncError(`${what} ${p}: ${messageOf(err)}; nothing was written`, "service.value");
    });
    if (info?.isSymbolicLink()) {
      const link = `${at} is a symlink, which systemd would follow; name the folder it points to`;
      throw new AuthSyncError(`${what} ${p}: ${link}; nothing was written`, "service.value");
    }
    if (info) {
      // lstat sees only the last component: a symlink above it would point systemd somewhere else.
      const above = path.dirname(at);
      const real = await realpath(above).catch(() => above);
      if (real !== above) {
        const link = `${above} resolves to ${real} (a symlink on the way), which systemd would follow; name ${real}`;
        throw new AuthSyncError(`${what} ${p}: ${link}; nothing was written`, "service.value");
      }
      if (info.uid === user.uid) return;
      const parent = at === p ? "" : `${at}, its nearest existing parent, `;
      const owner = `${parent}is owned by ${userName(info.uid)}, not ${user.name}`;
      const refused = `${what} ${p}: ${owner}; a system unit writes only its user's folders; nothing was written`;
      throw new AuthSyncError(refused, "service.value");
    }
    if (at === path.dirname(at)) return;
    at = path.dirname(at);
  }
}

/** What an install says when the service could not find `claude`: without it the daemon cannot refresh. */
export function claudeNotes(config: Config, host: HostFacts, user?: ServiceUser): string[] {
  const notes: string[] = [];
  if (host.ownClaude) notes.push(`note: ${host.ownClaude}, on this shell's PATH, is not ${user?.name}'s: not used`);
  if (host.claude) return notes;
  const where = host.ownClaude
    ? `in ${user?.name}'s ~/.local/bin, ~/.claude/local, ~/.npm-global/bin, ~/bin or /usr/local/bin`
    : "on PATH";
  const missing = `\`${config.claudePath}\` is not ${where}, so the daemon cannot ask it to refresh`;
  return [...notes, `warning: ${missing}; install Claude Code or set claudePath, then install again`];
}
