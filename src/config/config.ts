/**
 * The daemon's own config: `$XDG_CONFIG_HOME/moltbot-auth-sync/config.json`, or `--config` /
 * `MOLTBOT_AUTH_SYNC_CONFIG`. Every key has a default, so the file is optional; it is strict so that a
 * typo is reported by name instead of silently ignored.
 */
import os from "node:os";
import path from "node:path";
import { validate as isCronExpression } from "node-cron";
import * as z from "zod";
import { assertTrusted } from "../fs/trust.js";
import { parseDuration } from "../core/duration.js";
import { ConfigError, errnoCode, messageOf } from "../core/errors.js";
import { expandHome } from "../fs/home.js";
import { realPath } from "../fs/identity.js";
import { MAX_SMALL_FILE_BYTES, readRegularFile } from "../fs/read-file.js";
import { LOG_LEVELS } from "../log/format.js";
import { jsonErrorLine } from "./json-error.js";
import { isLoopback, parseListen } from "./listen.js";
import { nearestKeys } from "./suggest.js";

/** A problem a check of ours found, at `path` below the value it checks. */
const problem = (ctx: z.RefinementCtx, message: string, path: Array<string | number> = []) =>
  ctx.addIssue({ code: "custom", path, message });

/** A string or a number of milliseconds, read as a duration. */
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms !== undefined) return ms;
  problem(ctx, `expected a duration such as "30m", "120s", "1h" or milliseconds, got ${JSON.stringify(value)}`);
  return z.NEVER;
});

/** node-cron runs the schedules, so it alone says which expressions are valid (docs/config.md lists its forms). */
const cron = z.string().refine((expr) => isCronExpression(expr), "not a valid cron expression");

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
    if (typeof address === "string") return problem(ctx, address, ["listen"]);
    if (!value.allowRemote && !isLoopback(address.host)) {
      const message = `${address.host} is not a loopback address; set metrics.allowRemote to true to serve other hosts`;
      problem(ctx, message, ["listen"]);
    }
  });

/** One Claude login (a `CLAUDE_CONFIG_DIR`) and the profile it is synced into. */
const login = z.strictObject({
  claudeConfigDir: z.string().min(1),
  profileId: profileId("anthropic:work"),
});

/**
 * Two entries naming one Claude folder (a symlink, `~`, a trailing `/`) are refused, not merged: each would refresh
 * the same login on its own schedule, the very race one refresher per login prevents, and merging would silently
 * drop a profile id the admin asked for.
 */
const logins = z
  .array(login)
  .min(1)
  .superRefine((entries, ctx) => {
    const profiles = new Map<string, number>();
    const folders = new Map<string, number>();
    entries.forEach((entry, i) => {
      const profile = profiles.get(entry.profileId);
      if (profile === undefined) profiles.set(entry.profileId, i);
      else problem(ctx, `${entry.profileId} is already used by logins.${profile}`, [i, "profileId"]);
      const real = realFolder(entry.claudeConfigDir);
      const folder = folders.get(real);
      if (folder === undefined) folders.set(real, i);
      else problem(ctx, `${entry.claudeConfigDir} is the same folder as logins.${folder}`, [i, "claudeConfigDir"]);
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
      else problem(ctx, `${dir} is the same folder as stateDirs.${first}`, [i]);
    });
  });

/** The folder a configured path names, as `~` and symlinks resolve; a folder not there yet by its path. */
function realFolder(dir: string): string {
  return realPath(expandHome(dir, process.env.HOME || os.homedir()));
}

/**
 * Fleet mode (docs/fleet.md): the etcd cluster every host joins. An endpoint is a URL, so a typo such as a missing
 * scheme is caught here rather than as a connection that never comes up.
 */
const endpoint = z
  .string()
  .regex(
    /^https?:\/\/[A-Za-z0-9.[\]:-]+$/,
    'expected an endpoint such as "https://10.0.0.1:2379" (scheme, host and port)',
  );
/** A host's name in the fleet: shown by status and used in etcd's keys, so one line of plain characters. */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const fleet = z.strictObject({
  etcd: z
    .strictObject({
      endpoints: z.array(endpoint).min(1),
      tls: z.strictObject({ ca: z.string().min(1), cert: z.string().min(1), key: z.string().min(1) }).optional(),
      username: z.string().min(1).optional(),
      passwordFile: z.string().min(1).optional(),
    })
    .superRefine((etcd, ctx) => {
      if ((etcd.username === undefined) !== (etcd.passwordFile === undefined))
        problem(ctx, "username and passwordFile go together: set both, or neither");
    }),
  prefix: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*\/$/, 'expected a key prefix such as "/moltbot-auth-sync/" (starts and ends with /)')
    .default("/moltbot-auth-sync/"),
  /** Seals every secret published (access tokens, setup-tokens): every host holds it. */
  keyFile: z.string().min(1),
  /** Seals the login's full credentials (its refresh token): only the hosts that may take over refreshing. */
  loginKeyFile: z.string().min(1).optional(),
  /** Keys that no longer seal but still open what was sealed with them, while a rotation is under way. */
  previousKeyFiles: z.array(z.string().min(1)).default(() => []),
  host: z.string().regex(HOST_NAME, "expected a host name of letters, digits, '.', '_' and '-'").optional(),
  /** How long a host's leadership lasts without renewal: a dead leader is replaced within it. */
  leaseTime: duration
    .default(15_000)
    .refine((ms) => ms >= 5_000 && ms <= 600_000, "expected a lease time between 5s and 10m"),
});

const command = z.array(z.string().min(1)).min(1);
/** A copy for each parse, so that no caller can change the default itself. */
const commandDefault = (words: readonly string[]) => command.default(() => [...words]);

const schema = z.strictObject({
  stateDir: z.string().min(1).optional(),
  stateDirs: stateDirs.optional(),
  claudeConfigDir: z.string().min(1).optional(),
  source: z.enum(["auto", "keychain", "file"]).default("auto"),
  profileId: profileId("anthropic:claude-cli").default("anthropic:claude-cli"),
  credentialType: z.enum(["token", "oauth"]).default("token"),
  autoRecover: z.boolean().default(true),
  setupTokenProfileId: profileId("anthropic:manual").default("anthropic:manual"),
  expiryWarning: duration.default(3_600_000),
  loginEndWarning: duration.default(10 * 86_400_000),
  lockTimeout: duration.default(60_000),
  storeFormat: z.enum(["auto", "json-v1", "split", "sqlite"]).default("auto"),
  reloadGateway: z.boolean().default(true),
  refreshMargin: duration.default(240_000),
  refreshTimeout: duration.default(120_000),
  refreshCommand: commandDefault(DEFAULT_REFRESH_COMMAND),
  fallbackRefreshCommand: commandDefault(DEFAULT_FALLBACK_REFRESH_COMMAND),
  claudePath: z.string().min(1).default("claude"),
  resyncCron: cron.default("*/5 * * * *"),
  refreshCheckCron: cron.default("* * * * *"),
  logLevel: z.enum([...LOG_LEVELS, "silent"]).default("info"),
  onEvent: command.optional(),
  metrics: metrics.optional(),
  logins: logins.optional(),
  fleet: fleet.optional(),
});

const checked = schema.superRefine((config, ctx) => {
  if (config.stateDir !== undefined && config.stateDirs !== undefined)
    problem(ctx, "stateDir and stateDirs cannot both be set; keep one");
});

export type Config = z.output<typeof schema>;
export type FleetConfig = NonNullable<Config["fleet"]>;
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

/** Validates a config object; each problem is one line that names the file (`where`) and the key. */
export function parseConfig(input: unknown, where: string): Config {
  const result = checked.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.flatMap((issue) => problemLines(issue).map((line) => `${where}: ${line}`)));
}

/** One line per problem: each unknown key is a problem of its own, with its own guess. */
function problemLines(issue: z.core.$ZodIssue): string[] {
  const at = issue.path.length > 0 ? `key ${issue.path.join(".")}: ` : "";
  if (issue.code !== "unrecognized_keys") return [`${at}${issue.message}`];
  const known = knownKeys(issue.path);
  return issue.keys.map((key) => {
    const near = nearestKeys(key, known).map((k) => JSON.stringify(k));
    return `${at}unknown key ${JSON.stringify(key)}${near.length > 0 ? `; did you mean ${near.join(" or ")}?` : ""}`;
  });
}

/**
 * The keys the strict object at `where` takes, read from the schema itself so that a key added later is guessed
 * too: through `.optional()`, `.default()` and `.transform()` wrappers, array items and object keys.
 */
function knownKeys(where: readonly PropertyKey[]): string[] {
  let at = unwrapped(checked);
  for (const step of where) {
    if (at instanceof z.ZodArray && typeof step === "number") at = unwrapped(at.element);
    else if (at instanceof z.ZodObject && typeof step === "string") at = unwrapped(at.shape[step]);
    else return [];
  }
  return at instanceof z.ZodObject ? Object.keys(at.shape) : [];
}

function unwrapped(schema: unknown): unknown {
  let at = schema;
  for (;;) {
    if (at instanceof z.ZodOptional || at instanceof z.ZodDefault) at = at.unwrap();
    else if (at instanceof z.ZodPipe) at = at.in;
    else return at;
  }
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
    // A byte order mark (some Windows editors write one) is invisible, so it is skipped as RFC 8259 allows, as the
    // stores do, rather than reported as a character no one can see.
    text = (await readRegularFile(file, { maxBytes: MAX_SMALL_FILE_BYTES })).replace(/^\uFEFF/, "");
  } catch (err) {
    if (errnoCode(err) !== "ENOENT" || named) throw new ConfigError(`config ${file}: cannot read: ${messageOf(err)}`);
  }
  let fromFile: unknown = {};
  if (text !== undefined) {
    try {
      fromFile = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config ${jsonErrorLine(file, text, messageOf(err))}`);
    }
    if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) {
      const got = Array.isArray(fromFile) ? "an array" : fromFile === null ? "null" : `a ${typeof fromFile}`;
      throw new ConfigError(`config ${file}: expected a JSON object such as {"logLevel": "info"}, got ${got}`);
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
