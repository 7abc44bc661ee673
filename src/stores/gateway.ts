/**
 * The gateway install found on disk: its state dir, its config, every agent in it and the store generation
 * found there. The adapter to write with is `adapterFor(gateway.generation, gateway.stateDir.dir)`.
 */
import { statSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config/config.js";
import { AuthSyncError } from "../core/errors.js";
import { AUTH_PROFILES_FILENAME, type Agent, type GatewayConfig, discoverAgents, readGatewayConfig } from "./agents.js";
import { type Generation, detectGeneration, recordedVersion } from "./generation.js";
import { type StateDirChoice, resolveStateDir, STATE_DIR_ENV, STATE_DIR_NAMES } from "./state-dir.js";

export interface GatewayInstall {
  stateDir: StateDirChoice;
  gatewayConfig: GatewayConfig | undefined;
  agents: Agent[];
  generation: Generation;
  /** Agents of the gateway config that are skipped, one line each (a rejected id, a relative agentDir). */
  warnings: string[];
}

export function storeFile(agent: Agent): string {
  return path.join(agent.dir, AUTH_PROFILES_FILENAME);
}

export function requireStateDir(config: Config, env: NodeJS.ProcessEnv = process.env): StateDirChoice {
  const choice = resolveStateDir(config.stateDir, env);
  // A typo must not create a new gateway state dir: a named one must exist (only agent folders are ever created).
  if (choice && config.stateDir && !isDirectory(choice.dir)) {
    const named = `state dir ${choice.dir} (from --state-dir / config stateDir)`;
    throw new AuthSyncError(`${named} is not an existing folder; check the path`, "state_dir.missing");
  }
  if (choice) return choice;
  const looked = [...STATE_DIR_NAMES.map((n) => `~/${n}`), ...STATE_DIR_ENV.map((n) => `$${n}`)].join(", ");
  throw new AuthSyncError(
    `no Moltbot state dir found (looked at ${looked}); pass --state-dir or set stateDir in the config`,
    "state_dir.missing",
  );
}

export async function findGateway(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<GatewayInstall> {
  const stateDir = requireStateDir(config, env);
  const gatewayConfig = await readGatewayConfig(stateDir.dir, env);
  const warnings: string[] = [];
  const agents = await discoverAgents(stateDir.dir, gatewayConfig, env, warnings);
  const version = recordedVersion(gatewayConfig);
  const generation: Generation =
    config.storeFormat === "auto"
      ? detectGeneration(stateDir.dir, agents, gatewayConfig)
      : { format: config.storeFormat, reason: "forced by config storeFormat", ...(version ? { version } : {}) };
  return { stateDir, gatewayConfig, agents, generation, warnings };
}

/** What a command says on stderr about its targets: an unreadable gateway config, every skipped agent. */
export function gatewayWarnings(targets: GatewayInstall): string[] {
  const config = targets.gatewayConfig;
  if (!config?.error) return targets.warnings;
  const unreadable = `gateway config ${config.file} cannot be parsed (${config.error}); used the agents found on disk`;
  return [unreadable, ...targets.warnings];
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
