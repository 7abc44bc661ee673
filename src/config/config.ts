/**
 * The daemon's own config: `$XDG_CONFIG_HOME/moltbot-auth-sync/config.json`, or `--config` /
 * `MOLTBOT_AUTH_SYNC_CONFIG`. Every key has a default, so the file is optional; it is strict so that a
 * typo is reported by name instead of silently ignored.
 */
import { realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { validate as isValidCron } from "node-cron";
import { z } from "zod";
import { parseDuration } from "../core/duration.js";
import { ConfigError, errnoCode, messageOf } from "../core/errors.js";
import { expandHome } from "../fs/home.js";
import { MAX_SMALL_FILE_BYTES, readRegularFile } from "../fs/read-file.js";
import { LOG_LEVELS } from "../log/format.js";
import { isLoopback, parseListen } from "./listen.js";

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a duration such as "30m", "120s", "1h" or milliseconds, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const cron = z.string().refine((expr) => isValidCron(expr), { message: "not a valid cron expression" });

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
const profileId = (example: string) => z.string().regex(PROFILE_ID, `expected an id such as "${example}"`);

/** Opt-in: without it no server binds and prom-client is never loaded. */
const metrics = z
  .strictObject({
    listen: z.string(),
    allowRemote: z.boolean().default(false),
  })
  .superRefine((value, ctx) => {
    const address = parseListen(value.listen);
    if (typeof address === "string") return ctx.addIssue({ code: "custom", path: ["listen"], message: address });
    if (!value.allowRemote && !isLoopback(address.host)) {
      ctx.addIssue({
        code: "custom",
        path: ["listen"],
        message: `${address.host} is not a loopback address; set metrics.allowRemote to true to serve other hosts`,
      });
    }
  });

/** One Claude login (a `CLAUDE_CONFIG_DIR`) and the profile it is synced into. */
const login = z.strictObject({
  claudeConfigDir: z.string().min(1),
  profileId: profileId("anthropic:work"),
});

const logins = z
  .array(login)
  .min(1)
  .superRefine((entries, ctx) => {
    const seen = new Map<string, string>();
    entries.forEach((entry, i) => {
      for (const [key, value] of [
        ["profileId", entry.profileId],
        ["claudeConfigDir", path.resolve(entry.claudeConfigDir)],
      ] as const) {
        const where = `${key}:${value}`;
        if (seen.has(where))
          ctx.addIssue({ code: "custom", path: [i, key], message: `${value} is already used by ${seen.get(where)}` });
        else seen.set(where, `logins.${i}`);
      }
    });
  });

/** Several gateways' state dirs; two names of one folder (a symlink, `~`) would sync its agents twice. */
const stateDirs = z
  .array(z.string().min(1))
  .min(1)
  .superRefine((dirs, ctx) => {
    const seen = new Map<string, number>();
    dirs.forEach((dir, i) => {
      const real = realFolder(dir);
      const first = seen.get(real);
      if (first === undefined) seen.set(real, i);
      else ctx.addIssue({ code: "custom", path: [i], message: `${dir} is the same folder as stateDirs.${first}` });
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

const schema = z.strictObject({
  stateDir: z.string().min(1).optional(),
  stateDirs: stateDirs.optional(),
  claudeConfigDir: z.string().min(1).optional(),
  source: z.enum(["auto", "keychain", "file"]).default("auto"),
  profileId: profileId("anthropic:claude-cli").default("anthropic:claude-cli"),
  credentialType: z.enum(["token", "oauth"]).default("token"),
  setupTokenProfileId: profileId("anthropic:manual").default("anthropic:manual"),
  expiryWarning: duration.default(3_600_000),
  lockTimeout: duration.default(60_000),
  storeFormat: z.enum(["auto", "json-v1", "split", "sqlite"]).default("auto"),
  refreshMargin: duration.default(240_000),
  refreshTimeout: duration.default(120_000),
  refreshCommand: z.array(z.string().min(1)).min(1).default(DEFAULT_REFRESH_COMMAND),
  fallbackRefreshCommand: z.array(z.string().min(1)).min(1).default(DEFAULT_FALLBACK_REFRESH_COMMAND),
  claudePath: z.string().min(1).default("claude"),
  resyncCron: cron.default("*/5 * * * *"),
  refreshCheckCron: cron.default("* * * * *"),
  logLevel: z.enum([...LOG_LEVELS, "silent"]).default("info"),
  onEvent: z.array(z.string().min(1)).min(1).optional(),
  metrics: metrics.optional(),
  logins: logins.optional(),
});

const checked = schema.superRefine((config, ctx) => {
  if (config.stateDir !== undefined && config.stateDirs !== undefined)
    ctx.addIssue({ code: "custom", path: [], message: "stateDir and stateDirs cannot both be set; keep one" });
});

export type Config = z.output<typeof schema>;
export type ConfigInput = z.input<typeof schema>;

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
  const result = checked.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path.length > 0 ? issue.path.join(".") : undefined;
  if (issue.code === "unrecognized_keys") {
    throw new ConfigError(`${where}: unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`);
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
  const merged: Record<string, unknown> = { ...(fromFile as object), ...withoutUndefined(overrides) };
  // `--state-dir` narrows the command to that one gateway, whatever stateDirs the file lists.
  if (overrides.stateDir !== undefined) delete merged.stateDirs;
  return {
    config: parseConfig(merged, `config ${text === undefined ? "(defaults)" : file}`),
    file: text === undefined ? undefined : file,
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The schema itself, so the docs test can check that every key is documented in docs/config.md. */
export { schema as configSchema };
