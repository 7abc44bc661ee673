/**
 * Which agent dirs exist: `<state>/agents/<id>/agent/` on disk, plus `agents.list[].agentDir` (and, in the
 * SQLite era, `agents.entries.<id>.agentDir`) from the gateway's JSON5 config. Every agent with its own store
 * needs its own copy (moltbot-store.md §2).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import JSON5 from "json5";
import { errnoCode, messageOf } from "../errors.js";
import { expandHome } from "./state-dir.js";

export const DEFAULT_AGENT_ID = "main";
export const AUTH_PROFILES_FILENAME = "auth-profiles.json";

const CONFIG_ENV = ["OPENCLAW_CONFIG_PATH", "MOLTBOT_CONFIG_PATH", "CLAWDBOT_CONFIG_PATH"] as const;
const CONFIG_NAMES = ["openclaw.json", "moltbot.json", "clawdbot.json", "moldbot.json"] as const;

export interface Agent {
  id: string;
  /** The agent dir, which holds `auth-profiles.json`. */
  dir: string;
  /** Where we learned of it. */
  from: "disk" | "config" | "default";
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

export function defaultAgentDir(stateDir: string, id: string): string {
  return path.join(agentsRoot(stateDir), id, "agent");
}

/** Finds and parses the gateway config; a parse failure is reported, not thrown, since sync can go on without it. */
export async function readGatewayConfig(stateDir: string, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig | undefined> {
  const home = env.HOME || os.homedir();
  const named = CONFIG_ENV.map((name) => env[name]?.trim()).find(Boolean);
  const candidates = named ? [path.resolve(expandHome(named, home))] : CONFIG_NAMES.map((name) => path.join(stateDir, name));
  for (const file of candidates) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if (errnoCode(err) === "ENOENT") continue;
      return { file, value: undefined, error: messageOf(err) };
    }
    try {
      const value: unknown = JSON5.parse(text);
      return typeof value === "object" && value !== null ? { file, value: value as Record<string, unknown> } : { file, value: undefined, error: "not an object" };
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

function configuredAgents(config: GatewayConfig | undefined, stateDir: string, home: string): Agent[] {
  const agents: Agent[] = [];
  for (const { id, agentDir } of configuredEntries(config)) {
    if (typeof id !== "string" || id.trim() === "") continue;
    const dir = typeof agentDir === "string" && agentDir.trim() !== "" ? path.resolve(expandHome(agentDir.trim(), home)) : defaultAgentDir(stateDir, id.trim());
    agents.push({ id: id.trim(), dir, from: "config" });
  }
  return agents;
}

async function agentsOnDisk(stateDir: string): Promise<Agent[]> {
  let ids: string[];
  try {
    ids = (await readdir(agentsRoot(stateDir), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return [];
    throw err;
  }
  const found: Agent[] = [];
  for (const id of ids.sort()) {
    const dir = defaultAgentDir(stateDir, id);
    if (await isAgentDir(dir)) found.push({ id, dir, from: "disk" });
  }
  return found;
}

/** An agent on disk is its `agent/` folder; without it the agent does not exist (or was removed). */
export function isAgentDir(dir: string): Promise<boolean> {
  return stat(dir).then((s) => s.isDirectory(), () => false);
}

/** Every agent, each dir once. */
export async function discoverAgents(stateDir: string, config: GatewayConfig | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Agent[]> {
  const home = env.HOME || os.homedir();
  const configured = configuredAgents(config, stateDir, home);
  // Without agents.list the gateway's default agent is always `main`; with it, the default is one of the list.
  const implicitMain: Agent[] = configured.length === 0 ? [{ id: DEFAULT_AGENT_ID, dir: defaultAgentDir(stateDir, DEFAULT_AGENT_ID), from: "default" }] : [];
  const byDir = new Map<string, Agent>();
  for (const agent of [...(await agentsOnDisk(stateDir)), ...configured, ...implicitMain]) {
    if (!byDir.has(agent.dir)) byDir.set(agent.dir, agent);
  }
  return [...byDir.values()];
}
