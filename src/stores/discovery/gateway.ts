/**
 * The gateway installs found on disk: for each, its state dir, its config, every agent in it and the store
 * generation found there. The adapter to write with is `adapterFor(gateway.generation, gateway.stateDir.dir)`.
 * One host may run several gateways (config `stateDirs`); each is found on its own, and one that cannot be
 * found never hides the others.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Config } from "../../config/config.js";
import { AuthSyncError } from "../../core/errors.js";
import { isFolder } from "../../fs/identity.js";
import {
  AUTH_PROFILES_FILENAME,
  CONFIG_NAMES,
  CONFIG_PATH_ENV,
  type Agent,
  type GatewayConfig,
  agentsOnDisk,
  discoverAgents,
  readGatewayConfig,
} from "./agents.js";
import { type Generation, detectGeneration, recordedVersion } from "./generation.js";
import type { GatewayAuth } from "../../reconcile/profile-order.js";
import { STATE_DB } from "../sqlite/layout.js";
import { type StateDirChoice, resolveStateDir, STATE_DIR_ENV, STATE_DIR_NAMES } from "./state-dir.js";

export interface GatewayInstall {
  stateDir: StateDirChoice;
  gatewayConfig: GatewayConfig | undefined;
  agents: Agent[];
  generation: Generation;
  /** Agents of the gateway config that are skipped, one line each (a rejected id, a relative agentDir). */
  warnings: string[];
}

/** The gateway config's `auth` section, for which profiles the gateway ever tries (reconcile/profile-order.ts). */
export function gatewayAuth(gateway: Pick<GatewayInstall, "gatewayConfig">): GatewayAuth | undefined {
  const config = gateway.gatewayConfig;
  return config ? { file: config.file, auth: config.value?.auth } : undefined;
}

export function storeFile(agent: Agent): string {
  return path.join(agent.dir, AUTH_PROFILES_FILENAME);
}

/** A configured state dir that cannot be served now: a volume not mounted yet, a folder that is not one. */
export interface GatewayFailure {
  dir: string;
  error: Error;
}

/** A failure in one line that names its state dir (once: most messages name it already). */
export function failureText(failure: GatewayFailure): string {
  const { message } = failure.error;
  return message.includes(failure.dir) ? message : `state dir ${failure.dir}: ${message}`;
}

export interface Gateways {
  found: GatewayInstall[];
  failed: GatewayFailure[];
  /**
   * The label of a gateway on every line about one of its agents: its state dir when `stateDirs` is configured
   * (every gateway has a `main`); undefined for the single gateway, whose lines need no label.
   */
  stateDirLabel: (stateDir: string) => string | undefined;
}

const STATE_DIRS_REASON = "config stateDirs";

/** The state dirs the config names: each of `stateDirs`, resolved; undefined without that key. */
export function configuredStateDirs(config: Config, env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  return config.stateDirs?.map((dir) => resolveStateDir(dir, env)!.dir);
}

/**
 * Every gateway of the config. Without `stateDirs`, the one state dir resolved by `findGateway`, whose problem
 * is thrown; with it, each state dir found on its own, its problem kept apart as a failure.
 */
export async function findGateways(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<Gateways> {
  const dirs = configuredStateDirs(config, env);
  if (!dirs) return { found: [await findGateway(config, env)], failed: [], stateDirLabel: () => undefined };
  const gateways: Gateways = { found: [], failed: [], stateDirLabel: (dir) => dir };
  // Each gateway reads the config in its own state dir: a config path in our environment is one gateway's.
  const own = Object.fromEntries(Object.entries(env).filter(([name]) => !CONFIG_PATH_ENV.some((n) => n === name)));
  for (const dir of dirs) {
    try {
      const stateDir = requireStateDir({ ...config, stateDir: dir }, own, STATE_DIRS_REASON);
      await requireGateway(dir);
      gateways.found.push(await findInstall(stateDir, config, own));
    } catch (err) {
      gateways.failed.push({ dir, error: err as Error });
    }
  }
  return gateways;
}

/**
 * Whether `dir` holds a gateway: its config, an agent's own folder, or the SQLite era's state database, one of
 * which a gateway leaves in every state dir it uses. An `agents` folder alone is not enough: Claude Code keeps its
 * subagents in `~/.claude/agents/*.md`.
 */
export async function holdsGateway(dir: string): Promise<boolean> {
  const files = [...CONFIG_NAMES.map((name) => path.join(dir, name)), path.join(dir, STATE_DB)];
  return files.some((file) => existsSync(file)) || (await agentsOnDisk(dir)).length > 0;
}

/**
 * Refuses a named state dir that holds no gateway (yet): an empty mount point whose volume is not there, a wrong
 * folder (`~/.claude`, an agent's own folder). Agents made in it would be read by no gateway, or hidden under the
 * volume once it is mounted.
 */
async function requireGateway(dir: string): Promise<void> {
  if (await holdsGateway(dir)) return;
  const looks = `a gateway's state dir holds ${CONFIG_NAMES[0]}, agents/<id>/agent or ${STATE_DB}`;
  const why = `state dir ${dir} holds no gateway yet (${looks}); check the path (a volume not mounted yet?)`;
  throw new AuthSyncError(why, "state_dir.missing");
}

export function requireStateDir(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  reason = "--state-dir / config stateDir",
): StateDirChoice {
  if (config.stateDir === undefined && config.stateDirs !== undefined) {
    if (config.stateDirs.length > 1) {
      const why = `several state dirs are configured (stateDirs); pass --state-dir to pick one of them`;
      throw new AuthSyncError(why, "usage");
    }
    return requireStateDir({ ...config, stateDir: config.stateDirs[0] }, env, STATE_DIRS_REASON);
  }
  const found = resolveStateDir(config.stateDir, env);
  // Each of stateDirs is meant: another default dir beside it is no sign of a wrong choice.
  const listed = reason === STATE_DIRS_REASON ? { alsoExisting: [] } : {};
  const choice = found && config.stateDir ? { ...found, reason, ...listed } : found;
  // A typo must not create a new gateway state dir: a named one must exist (only agent folders are ever created).
  if (choice && config.stateDir && !isFolder(choice.dir)) {
    const named = `state dir ${choice.dir} (from ${reason})`;
    throw new AuthSyncError(`${named} is not an existing folder; check the path`, "state_dir.missing");
  }
  if (choice) return choice;
  const looked = [...STATE_DIR_NAMES.map((n) => `~/${n}`), ...STATE_DIR_ENV.map((n) => `$${n}`)].join(", ");
  throw new AuthSyncError(
    `no Moltbot state dir found (looked at ${looked}); pass --state-dir or set stateDir in the config`,
    "state_dir.missing",
  );
}

/** The one gateway a command serves; with several in `stateDirs`, `--state-dir` must pick one. */
export async function findGateway(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<GatewayInstall> {
  const stateDir = requireStateDir(config, env);
  // The gateway's own default dir or the one its environment names may still be empty (before its first run);
  // a dir we were told of may be the wrong one, and agents made there would be read by no gateway.
  if (config.stateDir !== undefined || config.stateDirs !== undefined) await requireGateway(stateDir.dir);
  return findInstall(stateDir, config, env);
}

async function findInstall(stateDir: StateDirChoice, config: Config, env: NodeJS.ProcessEnv): Promise<GatewayInstall> {
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

/** How a line names an agent: its id, and its state dir when several gateways are served (`Gateways.stateDirLabel`). */
export function agentName(agent: string, stateDir: string | undefined): string {
  return stateDir === undefined ? agent : `${agent} (${stateDir})`;
}
