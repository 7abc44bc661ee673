/**
 * Where the Claude login comes from: the CLI's file, and on macOS its Keychain item. Each is read-only.
 * `source: "auto"` reads both on macOS and takes the fresher, because the CLI falls back to the file when
 * the Keychain refuses a write, and a stale copy can linger in either place.
 */
import type { Config } from "../config/config.js";
import { loginConfigs } from "../config/logins.js";
import { SourceError } from "../core/errors.js";
import type { SetupToken, SourceCredential } from "../types.js";
import { claudeConfigDir, credentialsPath, readClaudeCliFile } from "./claude-cli-file.js";
import { type KeychainBackend, defaultKeychainBackend, readKeychainLogin } from "./keychain.js";
import { readSetupTokens } from "./setup-token.js";

export interface SourceDeps {
  platform?: NodeJS.Platform;
  /** The Keychain backend; tests inject one. */
  keychain?: () => Promise<KeychainBackend>;
}

export function claudeCredentialsFile(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return credentialsPath(claudeConfigDir(config.claudeConfigDir, env));
}

/**
 * A configured config dir names the Keychain item as `claude` run with it does (the refresher passes it as
 * CLAUDE_CONFIG_DIR): each login has its own item.
 */
function keychainEnv(config: Config, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return config.claudeConfigDir ? { ...env, CLAUDE_CONFIG_DIR: config.claudeConfigDir } : env;
}

/** Which stores to read, in order of preference. */
function sourceOrder(config: Config, platform: NodeJS.Platform = process.platform): Array<"keychain" | "file"> {
  if (config.source === "auto") return platform === "darwin" ? ["keychain", "file"] : ["file"];
  return [config.source];
}

const asSourceError = (err: unknown): SourceError =>
  err instanceof SourceError ? err : new SourceError(String(err), "unreadable");

/** The Claude Code login, as `claude` itself last saved it. */
export async function readClaudeLogin(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  deps: SourceDeps = {},
): Promise<SourceCredential> {
  const order = sourceOrder(config, deps.platform);
  const results = await Promise.all(
    order.map((kind) =>
      (kind === "file"
        ? readClaudeCliFile(claudeCredentialsFile(config, env))
        : (deps.keychain ?? defaultKeychainBackend)().then((backend) =>
            readKeychainLogin(backend, keychainEnv(config, env)),
          )
      ).catch(asSourceError),
    ),
  );
  const found = results.filter((r): r is SourceCredential => !(r instanceof SourceError));
  // The fresher wins; on a tie, the first in order (the Keychain on macOS).
  const best = found.reduce<SourceCredential | undefined>(
    (a, b) => (a === undefined || b.expiresAt > a.expiresAt ? b : a),
    undefined,
  );
  if (best) return best;
  // Nothing usable: report the first source's reason, unless a later one has a more specific problem than
  // "not logged in".
  const errors = results as SourceError[];
  return Promise.reject(errors.find((e) => e.problem !== "not_logged_in") ?? errors[0]!);
}

/** One login (`loginConfigs`) as read now: its credential, or why it gave none. */
export interface LoginReading {
  /** This login's view of the config. */
  config: Config;
  login?: SourceCredential;
  error?: SourceError;
}

/** What the sources hold now: every configured login, and every setup-token. Shaping them is reconcile's job. */
export interface SourceReadings {
  logins: LoginReading[];
  setupTokens: SetupToken[];
}

export async function readSources(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  deps: SourceDeps = {},
): Promise<SourceReadings> {
  const [logins, setupTokens] = await Promise.all([
    Promise.all(loginConfigs(config).map((view) => readLogin(view, env, deps))),
    readSetupTokens(config.setupTokenProfileId, env),
  ]);
  return { logins, setupTokens };
}

/** One login, read now; a source's problem is the reading's `error`, never thrown. */
export function readLogin(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  deps: SourceDeps = {},
): Promise<LoginReading> {
  return readClaudeLogin(config, env, deps).then(
    (login) => ({ config, login }),
    (err: unknown) => ({ config, error: asSourceError(err) }),
  );
}
