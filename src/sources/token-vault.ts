/**
 * Where `token set` keeps setup-tokens: the OS keyring (service `moltbot-auth-sync`), or, where no keyring
 * works (a headless Linux server has no Secret Service), a 0600 file. On Linux the keyring is pinned to the
 * Secret Service: its fallback, the kernel keyring, forgets everything at reboot.
 */
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { errnoCode, messageOf } from "../core/errors.js";
import { readRegularFile } from "../fs/read-file.js";
import { PRIVATE_DIR_MODE, writeFileAtomically } from "../fs/atomic-write.js";
import { defaultConfigPath } from "../config/config.js";

export const KEYRING_SERVICE = "moltbot-auth-sync";
/** One keyring entry holds every token, so the set can be read without listing the keyring. */
const KEYRING_ACCOUNT = "setup-tokens";
/** Date's own limit, which the gateway also holds `expires` to. */
export const MAX_DATE_MS = 8.64e15;

export interface StoredToken {
  token: string;
  /** When `token set` stored it, epoch ms; 0 when a version before savedAt stored it. */
  savedAt: number;
  /** When it expires, epoch ms (`token set --expires-in`); absent in entries stored before expiry was kept. */
  expires?: number;
}

export type TokenMap = Record<string, StoredToken>;

export interface TokenVault {
  readonly kind: "keyring" | "file";
  /** Where the tokens live, for messages: "OS keyring (service moltbot-auth-sync)" or the file's path. */
  readonly where: string;
  read(): Promise<TokenMap>;
  write(tokens: TokenMap): Promise<void>;
}

export function tokenFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(path.dirname(defaultConfigPath(env)), "setup-tokens.json");
}

export function fileVault(file: string): TokenVault {
  return {
    kind: "file",
    where: file,
    async read() {
      try {
        return parseTokens(await readRegularFile(file, { followSymlinks: false }));
      } catch (err) {
        if (errnoCode(err) === "ENOENT") return {};
        throw new Error(`cannot read ${file}: ${messageOf(err)}`, { cause: err });
      }
    },
    async write(tokens) {
      if (Object.keys(tokens).length === 0) return rm(file, { force: true });
      await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
      await writeFileAtomically(file, `${JSON.stringify({ version: 1, tokens }, null, 2)}\n`);
    },
  };
}

/** Why the OS keyring keeps no token here, for the line `token set` prints when the file keeps it instead. */
export interface KeyringProblem {
  /** One clause: "no D-Bus session bus, so no OS keyring", "the OS keyring is locked, and …", … */
  text: string;
  /** The keyring is there but locked: what it holds is out of sight until it is unlocked, not gone. */
  locked: boolean;
}

/** The OS keyring, or why it does not work here (checked by reading our entry). */
export async function keyringVault(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ vault: TokenVault } | { problem: KeyringProblem }> {
  // The Secret Service lives on the session bus; without one (a headless server, a system unit) there is no point
  // loading the native module at all. libdbus finds the bus by the address, else at $XDG_RUNTIME_DIR/bus.
  const runtimeBus = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, "bus") : undefined;
  if (platform === "linux" && !env.DBUS_SESSION_BUS_ADDRESS && !(runtimeBus && existsSync(runtimeBus)))
    return { problem: { text: "no D-Bus session bus, so no OS keyring", locked: false } };
  let entry: import("@napi-rs/keyring").Entry;
  try {
    const { Entry } = await import("@napi-rs/keyring");
    entry = new Entry(
      KEYRING_SERVICE,
      KEYRING_ACCOUNT,
      platform === "linux" ? { linux: { store: "secret-service" } } : undefined,
    );
    entry.getPassword();
  } catch (err) {
    return { problem: keyringProblem(err) };
  }
  return {
    vault: {
      kind: "keyring",
      where: `OS keyring (service ${KEYRING_SERVICE})`,
      // The keyring calls are synchronous; a promise made this way still turns their throw into a rejection.
      read: () => new Promise((resolve) => resolve(parseTokens(entry.getPassword() ?? ""))),
      write: (tokens) =>
        new Promise((resolve) => {
          if (Object.keys(tokens).length === 0) entry.deletePassword();
          else entry.setPassword(JSON.stringify({ version: 1, tokens }));
          resolve();
        }),
    },
  };
}

/**
 * A keyring failure in one clause. The messages matched are the Secret Service's through @napi-rs/keyring, as
 * gnome-keyring gives them (test/sources/keyring-real.test.ts runs each case against the real daemon).
 */
export function keyringProblem(err: unknown): KeyringProblem {
  const message = messageOf(err);
  // The bus answers, but nothing on it is, or can be started as, org.freedesktop.secrets.
  if (/org\.freedesktop\.secrets was not provided|ServiceUnknown/.test(message))
    return { text: "no Secret Service on the D-Bus session bus, so no OS keyring", locked: false };
  // A locked collection asks a prompter to unlock it; with no display the prompt fails at once, as if dismissed.
  if (/unlock prompt was dismissed|is locked/i.test(message))
    return {
      text: "the OS keyring is locked, and its unlock prompt was dismissed or could not be shown",
      locked: true,
    };
  // No default collection: gnome-keyring started without a login keyring (one made at a desktop login).
  if (/no result found/.test(message))
    return { text: "the OS keyring has no default keyring to store into", locked: false };
  return { text: `the OS keyring failed: ${message}`, locked: false };
}

function parseTokens(text: string): TokenMap {
  if (text.trim() === "") return {};
  const parsed = JSON.parse(text) as { tokens?: unknown };
  const tokens: TokenMap = {};
  for (const [id, value] of Object.entries((parsed.tokens ?? {}) as Record<string, unknown>)) {
    const { token, savedAt, expires } = (value ?? {}) as Partial<StoredToken>;
    if (typeof token !== "string" || token === "") continue;
    tokens[id] = { token, savedAt: isTime(savedAt) ? savedAt : 0, ...(isTime(expires) ? { expires } : {}) };
  }
  return tokens;
}

/** A time the gateway accepts as `expires` (epoch ms within Date's range); anything else is no time at all. */
function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 && value <= MAX_DATE_MS;
}

/** The vaults that work here, the keyring first; and, when the keyring is not among them, why. */
export async function openTokenVaults(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): Promise<{ vaults: TokenVault[]; keyringProblem?: KeyringProblem }> {
  const keyring = await keyringVault(platform, env);
  const file = fileVault(tokenFilePath(env));
  return "vault" in keyring ? { vaults: [keyring.vault, file] } : { vaults: [file], keyringProblem: keyring.problem };
}

/** Both vaults that exist here: the keyring first (when it works), then the file. */
export async function tokenVaults(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): Promise<TokenVault[]> {
  return (await openTokenVaults(env, platform)).vaults;
}
