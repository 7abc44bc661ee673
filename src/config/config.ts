/**
 * The daemon's own config: `$XDG_CONFIG_HOME/moltbot-auth-sync/config.json`, or `--config` /
 * `MOLTBOT_AUTH_SYNC_CONFIG`. Every key has a default, so the file is optional; it is strict so that a
 * typo is reported by name instead of silently ignored.
 */
import { realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { assertTrusted } from "../fs/trust.js";
import { isCronExpression } from "../core/cron.js";
import { parseDuration } from "../core/duration.js";
import {
  Issue,
  type Output,
  type Schema,
  array,
  boolean,
  oneOf,
  optional,
  refine,
  strictObject,
  string,
  withDefault,
} from "../core/schema.js";
import { ConfigError, errnoCode, messageOf } from "../core/errors.js";
import { expandHome } from "../fs/home.js";
import { MAX_SMALL_FILE_BYTES, readRegularFile } from "../fs/read-file.js";
import { LOG_LEVELS } from "../log/format.js";
import { isLoopback, parseListen } from "./listen.js";

/** A string or a finite number (anything else is "Invalid input", as zod's union said), then a duration. */
const duration: Schema<number> = (value, path) => {
  if (typeof value !== "string" && (typeof value !== "number" || !Number.isFinite(value)))
    throw new Issue(path, "Invalid input");
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new Issue(
      path,
      `expected a duration such as "30m", "120s", "1h" or milliseconds, got ${JSON.stringify(value)}`,
    );
  return ms;
};

const cron = refine(string(), (expr, fail) =>
  isCronExpression(expr) ? undefined : fail("not a valid cron expression"),
);

/**
 * With stdin at end of file, `claude mcp serve` refreshes a token inside claude's 5-minute window (or expired) as it
 * starts, then exits, and sends no model request (checked offline against the real CLI, 2.1.48 to 2.1.332).
 */
export const DEFAULT_REFRESH_COMMAND = ["claude", "mcp", "serve"];
/**
 * The cheapest model request: outside the window only a 401 on a request makes `claude` refresh, and a CLI whose
 * `mcp serve` does not refresh needs it too.
 */
export const DEFAULT_FALLBACK_REFRESH_COMMAND = [
  "claude",
  "-p",
  "ok",
  "--model",
  "haiku",
  "--max-turns",
  "1",
  "--no-session-persistence",
];

/** An Anthropic profile id as the gateway names them: `anthropic:<name>`. */
export const PROFILE_ID = /^anthropic:[^\s]+$/;
const profileId = (example: string) =>
  string({ pattern: { regex: PROFILE_ID, message: `expected an id such as "${example}"` } });

/** Opt-in: without it no server binds and prom-client is never loaded. */
const metrics = refine(
  strictObject({
    listen: string(),
    allowRemote: withDefault(boolean(), false),
  }),
  (value, fail) => {
    const address = parseListen(value.listen);
    if (typeof address === "string") return fail(address, ["listen"]);
    if (!value.allowRemote && !isLoopback(address.host)) {
      fail(`${address.host} is not a loopback address; set metrics.allowRemote to true to serve other hosts`, [
        "listen",
      ]);
    }
  },
);

/** One Claude login (a `CLAUDE_CONFIG_DIR`) and the profile it is synced into. */
const login = strictObject({
  claudeConfigDir: string({ min: 1 }),
  profileId: profileId("anthropic:work"),
});

/**
 * Two entries naming one Claude folder (a symlink, `~`, a trailing `/`) are refused, not merged: each would refresh
 * the same login on its own schedule, the very race one refresher per login prevents, and merging would silently
 * drop a profile id the admin asked for.
 */
const logins = refine(array(login, { min: 1 }), (entries, fail) => {
  const profiles = new Map<string, number>();
  const folders = new Map<string, number>();
  entries.forEach((entry, i) => {
    const profile = profiles.get(entry.profileId);
    if (profile === undefined) profiles.set(entry.profileId, i);
    else fail(`${entry.profileId} is already used by logins.${profile}`, [i, "profileId"]);
    const real = realFolder(entry.claudeConfigDir);
    const folder = folders.get(real);
    if (folder === undefined) folders.set(real, i);
    else fail(`${entry.claudeConfigDir} is the same folder as logins.${folder}`, [i, "claudeConfigDir"]);
  });
});

/** Several gateways' state dirs; two names of one folder (a symlink, `~`) would sync its agents twice. */
const stateDirs = refine(array(string({ min: 1 }), { min: 1 }), (dirs, fail) => {
  const seen = new Map<string, number>();
  dirs.forEach((dir, i) => {
    const real = realFolder(dir);
    const first = seen.get(real);
    if (first === undefined) seen.set(real, i);
    else fail(`${dir} is the same folder as stateDirs.${first}`, [i]);
  });
});

/** The folder a configured path names, as `~` and symlinks resolve; a folder not there yet by its path. */
function realFolder(dir: string): string {
  const expanded = expandHome(dir, process.env.HOME || os.homedir());
  try {
    return realpathSync(expanded);
  } catch {
    return path.resolve(expanded);
  }
}

const command = array(string({ min: 1 }), { min: 1 });

const schema = strictObject({
  stateDir: optional(string({ min: 1 })),
  stateDirs: optional(stateDirs),
  claudeConfigDir: optional(string({ min: 1 })),
  source: withDefault(oneOf(["auto", "keychain", "file"]), "auto"),
  profileId: withDefault(profileId("anthropic:claude-cli"), "anthropic:claude-cli"),
  credentialType: withDefault(oneOf(["token", "oauth"]), "token"),
  autoRecover: withDefault(boolean(), true),
  setupTokenProfileId: withDefault(profileId("anthropic:manual"), "anthropic:manual"),
  expiryWarning: withDefault(duration, 3_600_000),
  loginEndWarning: withDefault(duration, 10 * 86_400_000),
  lockTimeout: withDefault(duration, 60_000),
  storeFormat: withDefault(oneOf(["auto", "json-v1", "split", "sqlite"]), "auto"),
  reloadGateway: withDefault(boolean(), true),
  refreshMargin: withDefault(duration, 240_000),
  refreshTimeout: withDefault(duration, 120_000),
  refreshCommand: withDefault(command, DEFAULT_REFRESH_COMMAND),
  fallbackRefreshCommand: withDefault(command, DEFAULT_FALLBACK_REFRESH_COMMAND),
  claudePath: withDefault(string({ min: 1 }), "claude"),
  resyncCron: withDefault(cron, "*/5 * * * *"),
  refreshCheckCron: withDefault(cron, "* * * * *"),
  logLevel: withDefault(oneOf([...LOG_LEVELS, "silent"]), "info"),
  onEvent: optional(command),
  metrics: optional(metrics),
  logins: optional(logins),
});

const checked = refine(schema, (config, fail) => {
  if (config.stateDir !== undefined && config.stateDirs !== undefined)
    fail("stateDir and stateDirs cannot both be set; keep one");
});

export type Config = Output<typeof schema>;
/** Values as given (a file's, a flag's), before validation and defaults. */
export type ConfigInput = { [K in keyof Config]?: unknown };

export interface LoadedConfig {
  config: Config;
  /** The file that was read, or undefined when the defaults apply. */
  file: string | undefined;
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "moltbot-auth-sync", "config.json");
}

/** Validates a config object; `where` names the file in the one-line error. */
export function parseConfig(input: unknown, where: string): Config {
  let issue: Issue;
  try {
    return checked(input, []);
  } catch (err) {
    if (!(err instanceof Issue)) throw err;
    issue = err;
  }
  const key = issue.path.length > 0 ? issue.path.join(".") : undefined;
  if (issue.unknownKeys) {
    throw new ConfigError(`${where}: unknown key ${issue.unknownKeys.map((k) => JSON.stringify(k)).join(", ")}`);
  }
  throw new ConfigError(`${where}: ${key ? `key ${key}: ` : ""}${issue.message}`);
}

/**
 * Reads the config. An explicitly named file must exist; the default file is optional.
 * `overrides` are command-line flags, applied on top of the file and validated with it.
 */
export async function loadConfig(
  explicitPath: string | undefined,
  overrides: ConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig> {
  const named = explicitPath ?? env.MOLTBOT_AUTH_SYNC_CONFIG;
  const file = named ? path.resolve(named) : defaultConfigPath(env);
  let text: string | undefined;
  try {
    text = await readRegularFile(file, { maxBytes: MAX_SMALL_FILE_BYTES });
  } catch (err) {
    if (errnoCode(err) !== "ENOENT" || named) throw new ConfigError(`config ${file}: cannot read: ${messageOf(err)}`);
  }
  let fromFile: unknown = {};
  if (text !== undefined) {
    try {
      fromFile = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config ${file}: not valid JSON: ${messageOf(err)}`);
    }
    if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) {
      throw new ConfigError(`config ${file}: expected a JSON object`);
    }
  }
  if (text !== undefined) assertProgramsTrusted(file, fromFile as Record<string, unknown>);
  const merged: Record<string, unknown> = { ...(fromFile as object), ...withoutUndefined(overrides) };
  // `--state-dir` narrows the command to that one gateway, whatever stateDirs the file lists.
  if (overrides.stateDir !== undefined) delete merged.stateDirs;
  return {
    config: parseConfig(merged, `config ${text === undefined ? "(defaults)" : file}`),
    file: text === undefined ? undefined : file,
  };
}

/** The keys that name a program we run: root runs them only from a config root owns (fs/trust.ts). */
const PROGRAM_KEYS = ["claudePath", "refreshCommand", "fallbackRefreshCommand"];

function assertProgramsTrusted(file: string, fromFile: Record<string, unknown>): void {
  if (!PROGRAM_KEYS.some((key) => key in fromFile)) return;
  try {
    assertTrusted(file, { action: "run the programs named in" });
  } catch (err) {
    throw new ConfigError(`config ${file}: ${messageOf(err)}`);
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The schema itself, so the docs test can check that every key is documented in docs/config.md. */
export { schema as configSchema };
