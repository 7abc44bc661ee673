/**
 * Which agent dirs exist: `<state>/agents/<id>/agent/` on disk, plus `agents.list[].agentDir` (and, in the
 * SQLite era, `agents.entries.<id>.agentDir`) from the gateway's JSON5 config. Every agent with its own store
 * needs its own copy (docs/stores.md). The same config's `auth.cooldowns`, which tune the JSON eras' ladder, are
 * reconcile's to read (cooldownConfigFrom in reconcile/cooldown.ts).
 */
import { readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import JSON5 from "json5";
import { errnoCode, messageOf } from "../../core/errors.js";
import { expandHome } from "../../fs/home.js";
import { isFolder } from "../../fs/identity.js";
import { readRegularFile } from "../../fs/read-file.js";

export const DEFAULT_AGENT_ID = "main";
export const AUTH_PROFILES_FILENAME = "auth-profiles.json";

export const CONFIG_PATH_ENV = ["OPENCLAW_CONFIG_PATH", "MOLTBOT_CONFIG_PATH", "CLAWDBOT_CONFIG_PATH"] as const;
/** The gateway config's names in its state dir, in the order they are looked for (the gateway was renamed). */
export const CONFIG_NAMES = ["openclaw.json", "moltbot.json", "clawdbot.json", "moldbot.json"] as const;

export interface Agent {
  id: string;
  /** The agent dir, which holds `auth-profiles.json`. */
  dir: string;
  /**
   * The gateway state dir: a missing agent dir is made only under its `agents/`, and a store that is a
   * symlink is followed only to a file inside it.
   */
  stateDir: string;
  /**
   * Named by the gateway config (or its default `main`): its folder is made when missing. Any other agent
   * exists only while its folder does; one whose folder went away was removed, and is not made again.
   */
  named?: boolean;
}

export interface GatewayConfig {
  file: string;
  /** The parsed JSON5 object, or undefined when it could not be parsed. */
  value: Record<string, unknown> | undefined;
  error?: string;
}

export function agentsRoot(stateDir: string): string {
  return path.join(stateDir, "agents");
}

/** The gateway config is a few KB; a cap keeps /dev/zero or a huge file from filling our memory. */
const MAX_GATEWAY_CONFIG_BYTES = 4 * 1024 * 1024;

export function defaultAgentDir(stateDir: string, id: string): string {
  return path.join(agentsRoot(stateDir), id, "agent");
}

/** The gateway's valid ids; anything else it rewrites (`normalizeAgentId` in src/routing/session-key.ts). */
const VALID_AGENT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/i;

/**
 * An agent id as the gateway normalises it: lower case, runs of other characters made one `-`, no `-` at
 * either end, at most 64 characters, so an id can never name a path outside `<state>/agents/`. Undefined
 * when nothing is left: newer gateways reject such an id ("unrepresentable").
 */
export function normalizeAgentId(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (VALID_AGENT_ID.test(trimmed)) return trimmed.toLowerCase();
  const id = trimmed
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+/, "")
    .replace(/-+$/, "")
    .slice(0, 64);
  return id || undefined;
}

/**
 * `agents.list[].agentDir` as the gateway resolves it (`resolveUserPath`): trimmed, a leading `~` is
 * OPENCLAW_HOME or HOME, then made absolute. A relative path is resolved against the gateway's working
 * directory, which we cannot know: undefined, so the agent is skipped rather than guessed.
 */
export function resolveAgentDir(raw: string, env: NodeJS.ProcessEnv): string | undefined {
  const trimmed = raw.trim();
  if (trimmed.startsWith("~")) {
    const osHome = env.HOME || os.homedir();
    const home = env.OPENCLAW_HOME?.trim() ? path.resolve(expandHome(env.OPENCLAW_HOME.trim(), osHome)) : osHome;
    const expanded = expandHome(trimmed, home);
    return path.isAbsolute(expanded) ? path.resolve(expanded) : undefined;
  }
  return path.isAbsolute(trimmed) ? path.resolve(trimmed) : undefined;
}

/** Whether `dir` is `root` or inside it, by path (symlinks are checked where a folder is made). */
export function isInside(dir: string, root: string): boolean {
  const rel = path.relative(root, dir);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Finds and parses the gateway config; a parse failure is reported, not thrown, since sync can go on without it. */
export async function readGatewayConfig(
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<GatewayConfig | undefined> {
  const home = env.HOME || os.homedir();
  const named = CONFIG_PATH_ENV.map((name) => env[name]?.trim()).find(Boolean);
  const candidates = named
    ? [path.resolve(expandHome(named, home))]
    : CONFIG_NAMES.map((name) => path.join(stateDir, name));
  for (const file of candidates) {
    let text: string;
    try {
      text = await readRegularFile(file, { maxBytes: MAX_GATEWAY_CONFIG_BYTES });
    } catch (err) {
      if (errnoCode(err) === "ENOENT") continue;
      return { file, value: undefined, error: messageOf(err) };
    }
    try {
      const value: unknown = JSON5.parse(text);
      return typeof value === "object" && value !== null
        ? { file, value: value as Record<string, unknown> }
        : { file, value: undefined, error: "not an object" };
    } catch (err) {
      return { file, value: undefined, error: messageOf(err) };
    }
  }
  return undefined;
}

/** `agents.list[]` (JSON eras) and `agents.entries.<id>` (the SQLite era) as `{id, agentDir?}` pairs. */
function configuredEntries(config: GatewayConfig | undefined): Array<{ id?: unknown; agentDir?: unknown }> {
  const agents = config?.value?.agents as { list?: unknown; entries?: unknown } | undefined;
  const list = Array.isArray(agents?.list) ? agents.list : [];
  const raw = agents?.entries;
  const entries = (raw && typeof raw === "object" && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const agentDirOf = (entry: unknown) => (entry as { agentDir?: unknown } | null)?.agentDir;
  const fromEntries = Object.entries(entries).map(([id, entry]) => ({ id, agentDir: agentDirOf(entry) }));
  return [...list.filter((e): e is object => typeof e === "object" && e !== null), ...fromEntries];
}

function configuredAgents(
  config: GatewayConfig | undefined,
  stateDir: string,
  env: NodeJS.ProcessEnv,
  warnings: string[],
): Agent[] {
  const agents: Agent[] = [];
  const where = `agents in ${config?.file ?? "the gateway config"}`;
  for (const { id: rawId, agentDir } of configuredEntries(config)) {
    if (typeof rawId !== "string" || rawId.trim() === "") continue;
    const id = normalizeAgentId(rawId);
    if (id === undefined) {
      const why = "has no letter or digit; the gateway rejects it";
      warnings.push(`agent id ${JSON.stringify(rawId)} (${where}) ${why}; skipped`);
      continue;
    }
    let dir = defaultAgentDir(stateDir, id);
    if (typeof agentDir === "string" && agentDir.trim() !== "") {
      const resolved = resolveAgentDir(agentDir, env);
      if (resolved === undefined) {
        const why = "is relative, so the gateway resolves it against its working directory; use an absolute path or ~/";
        warnings.push(`agent ${id}: agentDir ${JSON.stringify(agentDir)} (${where}) ${why}; skipped`);
        continue;
      }
      dir = resolved;
    }
    agents.push({ id, dir, stateDir });
  }
  return agents;
}

/** The agents with a folder of their own under `<state>/agents/`, by id. */
export async function agentsOnDisk(stateDir: string): Promise<Agent[]> {
  let ids: string[];
  try {
    ids = (await readdir(agentsRoot(stateDir), { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return [];
    throw err;
  }
  const found: Agent[] = [];
  for (const id of ids.sort()) {
    const dir = defaultAgentDir(stateDir, id);
    if (isAgentDir(dir)) found.push({ id, dir, stateDir });
  }
  return found;
}

/** An agent on disk is its `agent/` folder; without it the agent does not exist (or was removed). */
export function isAgentDir(dir: string): boolean {
  return isFolder(dir);
}

/**
 * Every agent, each dir once. An agent dir outside `<state>/agents/` is never made, so one that does not
 * exist is left out. Each agent the gateway config names but we skip gets a line in `warnings`.
 */
export async function discoverAgents(
  stateDir: string,
  config: GatewayConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
  warnings: string[] = [],
): Promise<Agent[]> {
  const listed = configuredAgents(config, stateDir, env, warnings).map((a) => ({ ...a, named: true }));
  const configured: Agent[] = [];
  for (const agent of listed) {
    if (isInside(agent.dir, agentsRoot(stateDir)) || isAgentDir(agent.dir)) configured.push(agent);
    else {
      const where = `outside ${agentsRoot(stateDir)}`;
      warnings.push(`agent ${agent.id}: agentDir ${agent.dir} does not exist and is ${where}; not made`);
    }
  }
  // Without agents.list the gateway's default agent is always `main`; with it, the default is one of the list.
  const implicitMain: Agent[] = [];
  if (listed.length === 0) {
    const dir = defaultAgentDir(stateDir, DEFAULT_AGENT_ID);
    implicitMain.push({ id: DEFAULT_AGENT_ID, dir, stateDir, named: true });
  }
  const byDir = new Map<string, Agent>();
  for (const agent of [...(await agentsOnDisk(stateDir)), ...configured, ...implicitMain]) {
    const seen = byDir.get(agent.dir);
    if (!seen) byDir.set(agent.dir, agent);
    else if (agent.named) seen.named = true;
  }
  return [...byDir.values()];
}
