/**
 * Who the Claude login is: `oauthAccount` in Claude Code's global config (`$CLAUDE_CONFIG_DIR/.claude.json`, else
 * `~/.claude.json`), the same file the gateway reads the email of an imported login from, and the credentials'
 * `accountUuid`. No secret lives there. Read only when a failed refresh asks whether a profile is the login's
 * account; a file that cannot be read only leaves the account unknown.
 */
import { stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Config } from "../config/config.js";
import type { LoginAccount } from "../reconcile/recovery.js";
import type { SourceCredential } from "../types.js";
import { readRegularFile } from "../fs/read-file.js";

/** The global config holds project history too, and grows: a generous cap, still refusing garbage. */
const MAX_GLOBAL_CONFIG_BYTES = 64 * 1024 * 1024;

export function claudeGlobalConfigPath(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  const dir = config.claudeConfigDir ?? env.CLAUDE_CONFIG_DIR;
  return dir ? path.join(path.resolve(dir), ".claude.json") : path.join(env.HOME || os.homedir(), ".claude.json");
}

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value.trim() ? value.trim() : undefined;

/** The last `oauthAccount` read, by the file's path, size and mtime: `/healthz` asks often, the file is large. */
let cached: { key: string; oauthAccount: Record<string, unknown> } | undefined;

async function readOauthAccount(file: string): Promise<Record<string, unknown>> {
  try {
    const s = await stat(file);
    const key = `${file}\0${s.size}\0${s.mtimeMs}\0${s.ino}`;
    if (cached?.key === key) return cached.oauthAccount;
    const parsed = JSON.parse(await readRegularFile(file, { maxBytes: MAX_GLOBAL_CONFIG_BYTES })) as {
      oauthAccount?: unknown;
    };
    const found = parsed.oauthAccount;
    const oauthAccount = found && typeof found === "object" ? (found as Record<string, unknown>) : {};
    cached = { key, oauthAccount };
    return oauthAccount;
  } catch {
    // Missing, unreadable or not JSON: the account stays unknown, which proves nothing either way.
    return {};
  }
}

/** The login's account: the credentials' `accountUuid` first, then what `oauthAccount` says. */
export async function readLoginAccount(
  config: Config,
  login: SourceCredential | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoginAccount> {
  const oauthAccount = await readOauthAccount(claudeGlobalConfigPath(config, env));
  const recorded = text(oauthAccount.accountUuid);
  const accountUuid = text(login?.accountUuid) ?? recorded;
  // A global config left from another sign-in names someone else: its email says nothing of this login.
  const email = recorded === undefined || recorded === accountUuid ? text(oauthAccount.emailAddress) : undefined;
  return { ...(accountUuid ? { accountUuid } : {}), ...(email ? { email } : {}) };
}
