/**
 * Source: Claude Code's login in the macOS Keychain. The item is a generic password with service
 * `Claude Code-credentials` (plus a hash suffix when CLAUDE_CONFIG_DIR is set) and the user's name as its
 * account; it holds the same JSON as `.credentials.json`. We list the service's items and take the one
 * for our account, because other accounts under the same service hold other things (MCP logins).
 */
import { createHash } from "node:crypto";
import { SourceError, messageOf } from "../core/errors.js";
import { osUserName } from "../core/process-identity.js";
import type { SourceCredential } from "../types.js";
import { parseClaudeCredentials } from "./claude-cli-file.js";

const KEYCHAIN_SERVICE = "Claude Code-credentials";
const SECURITY_TIMEOUT_MS = 5_000;
/** `security` exits 44 when no such item exists. */
const SECURITY_NOT_FOUND = 44;

const KEYCHAIN_REMEDY =
  'unlock it (`security unlock-keychain`) or answer "Always Allow" for this process; ' +
  "or use a setup-token (`moltbot-auth-sync token set`)";

export interface KeychainItem {
  account: string;
  password: string;
}

/** How the Keychain is reached; tests inject their own. */
export interface KeychainBackend {
  readonly name: string;
  /** The items of `service` for `account` (the napi backend returns every account; callers filter). */
  find(service: string, account: string): Promise<KeychainItem[]>;
}

/** The service name the CLI uses: a suffix of sha256(NFC configDir)[0:8] when CLAUDE_CONFIG_DIR is set. */
export function keychainService(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.CLAUDE_SECURESTORAGE_CONFIG_DIR ?? env.CLAUDE_CONFIG_DIR;
  if (!dir) return KEYCHAIN_SERVICE;
  return `${KEYCHAIN_SERVICE}-${createHash("sha256").update(dir.normalize("NFC")).digest("hex").slice(0, 8)}`;
}

/** The account the CLI writes: $USER, else the OS user name; names it cannot use become "claude-code-user". */
export function keychainAccount(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.USER || osUserName() || "";
  return /^[a-zA-Z0-9._-]+$/.test(name) ? name : "claude-code-user";
}

/** @napi-rs/keyring; undefined when its native module cannot load on this host. */
async function napiKeychainBackend(): Promise<KeychainBackend | undefined> {
  try {
    const { findCredentialsAsync } = await import("@napi-rs/keyring");
    return { name: "@napi-rs/keyring", find: (service) => findCredentialsAsync(service) };
  } catch {
    return undefined;
  }
}

/** The `security` CLI, for when the native module is unavailable. */
export function securityCliBackend(securityPath = "security"): KeychainBackend {
  return {
    name: "security",
    async find(service, account) {
      const { execa } = await import("execa");
      const result = await execa(securityPath, ["find-generic-password", "-s", service, "-a", account, "-w"], {
        reject: false,
        timeout: SECURITY_TIMEOUT_MS,
        stdin: "ignore",
      });
      if (result.exitCode === 0) return [{ account, password: String(result.stdout) }];
      if (result.exitCode === SECURITY_NOT_FOUND) return [];
      const why = result.timedOut
        ? `timed out after ${SECURITY_TIMEOUT_MS / 1000} s`
        : `exit ${result.exitCode ?? result.signal}: ${String(result.stderr).trim().split("\n")[0]}`;
      throw new Error(`security find-generic-password ${why}`);
    },
  };
}

export async function defaultKeychainBackend(): Promise<KeychainBackend> {
  return (await napiKeychainBackend()) ?? securityCliBackend();
}

export async function readKeychainLogin(
  backend: KeychainBackend,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SourceCredential> {
  const service = keychainService(env);
  const account = keychainAccount(env);
  const origin = `keychain "${service}" (account ${account})`;
  let items: KeychainItem[];
  try {
    items = await backend.find(service, account);
  } catch (err) {
    throw new SourceError(
      `macOS Keychain unavailable: cannot read ${origin} through ${backend.name} (${messageOf(err)}): ` +
        KEYCHAIN_REMEDY,
      "unavailable",
      "keychain.unavailable",
    );
  }
  const item = items.find((i) => i.account === account);
  if (!item) {
    const others = items.map((i) => i.account).filter((a) => a !== account);
    throw new SourceError(
      `no Claude login in ${origin}${others.length ? ` (only accounts ${others.join(", ")})` : ""}: ` +
        "run `claude` and /login, or use a setup-token",
      "not_logged_in",
    );
  }
  return parseClaudeCredentials(item.password, origin);
}
