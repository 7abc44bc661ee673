/**
 * `moltbot-auth-sync token set|clear|status`: setup-tokens kept in the OS keyring (or a 0600 file where no
 * keyring works). The token is read from stdin, never argv, where `ps` and shell history would keep it.
 */
import { withFleet } from "../fleet/one-shot.js";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { formatRelative, formatWhen } from "../core/duration.js";
import { PROFILE_ID } from "../config/config.js";
import { AuthSyncError, messageOf } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import { pidFilePath, runningDaemonPid } from "../runtime/files.js";
import {
  ENV_TOKEN,
  SETUP_TOKEN_LIFETIME_MS,
  parseExpiresIn,
  readSetupTokens,
  validateSetupToken,
} from "../sources/setup-token.js";
import { type KeyringProblem, type TokenVault, keyringProblem, openTokenVaults } from "../sources/token-vault.js";
import { type TokenBook, ownedBy, readTokenBook, recordTokens, tokenDigest } from "../sources/token-book.js";
import pLimit from "p-limit";
import type { Config } from "../config/config.js";
import { AGENT_CONCURRENCY } from "../pass/apply.js";
import { profileSecret } from "../reconcile/profile.js";
import { inSessions } from "../stores/adapter.js";
import { adapterFor } from "../stores/adapter-for.js";
import { agentName, findGateways } from "../stores/discovery/gateway.js";
import { type GlobalOptions, loadCommandConfig, printJson } from "./options.js";
import { columns, printLines } from "./print.js";

export interface TokenOptions extends GlobalOptions {
  profile?: string;
  json?: boolean;
  expiresIn?: string;
  /** `token set`: replace a token under this id that we did not put there (the gateway's `paste-token`). */
  replace?: boolean;
}

export async function tokenSetCommand(options: TokenOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const profileId = options.profile ?? config.setupTokenProfileId;
  if (!PROFILE_ID.test(profileId))
    throw new AuthSyncError(`--profile ${profileId}: expected an id such as "anthropic:manual"`, "usage");
  // A bad --expires-in fails before anything is read or stored.
  const lifetime = options.expiresIn !== undefined ? parseExpiresIn(options.expiresIn) : SETUP_TOKEN_LIFETIME_MS;
  const token = validateSetupToken(
    await readSecretFromStdin("Paste the setup-token from `claude setup-token` (input hidden): "),
  );
  const opened = await openTokenVaults();
  const { vaults } = opened;
  // Why the file keeps it, when it does: the keyring is not there, or it refused the write below.
  let refused: KeyringProblem | undefined = opened.keyringProblem;
  // Ours to replace: what we stored under this id before, and the copies of it the agents hold.
  const previous = (await readSetupTokens(config.setupTokenProfileId, process.env, vaults)).find(
    (t) => t.profileId === profileId && t.origin !== `env ${ENV_TOKEN}`,
  );
  // The book too: it knows the tokens we stored under this id after `token clear` emptied the vault, and
  // agents keep the copy they hold.
  const book = await readTokenBook().catch((): TokenBook => ({}));
  const ours = new Set([
    ...(book[profileId] ?? []),
    ...(previous ? [tokenDigest(previous.token)] : []),
    tokenDigest(token),
  ]);
  const foreign = await foreignTokens(config, profileId, ours);
  if (foreign.length > 0 && !options.replace) {
    const [first] = foreign;
    const more = foreign.length > 1 ? ` (and ${foreign.length - 1} more)` : "";
    const held = `${profileId} in ${first!.agent}${more} holds ${fingerprint(first!.secret)}`;
    const fix = `moltbot-auth-sync token set --profile ${profileId} --replace`;
    throw new AuthSyncError(
      `${held}, which moltbot-auth-sync did not put there (the gateway's paste-token?); nothing stored. ` +
        `To replace it: ${fix}, or store this one under another id with --profile`,
      "token.foreign",
    );
  }
  let stored: TokenVault | undefined;
  const errors: string[] = [];
  const savedAt = Date.now();
  const expires = savedAt + lifetime;
  for (const vault of vaults) {
    try {
      await vault.write({ ...(await vault.read()), [profileId]: { token, savedAt, expires } });
      stored = vault;
      break;
    } catch (err) {
      if (vault.kind === "keyring") refused = keyringProblem(err);
      else errors.push(`${vault.where}: ${messageOf(err)}`);
    }
  }
  if (!stored) {
    const why = [...(refused ? [refused.text] : []), ...errors].join("; ");
    throw new AuthSyncError(`cannot store the token: ${why}`, "token.store");
  }
  const lines = [
    `stored ${profileId} ${fingerprint(token)} in ${stored.where}` +
      (stored.kind === "file" ? ` (mode 0600, readable only by you; ${refused?.text ?? "no OS keyring"})` : ""),
    ...(await dropOlderCopies(vaults, stored, profileId)),
  ];
  // Recorded after the store: a book entry for a token never stored would only let a pass replace more.
  await recordTokens(profileId, [...(previous ? [previous.token] : []), token, ...foreign.map((f) => f.secret)]);
  const fleet = await withFleet(config, process.env, async (member) => {
    await member.publishSetupToken({ profileId, token, origin: stored.where, savedAt, expires, ours });
    return `published ${profileId} to the fleet as ${member.host}: every host syncs it`;
  }).catch((err: unknown) => {
    printLines(lines);
    throw new AuthSyncError(`stored here, but not published to the fleet: ${messageOf(err)}`, "fleet");
  });
  printLines([
    ...lines,
    ...(fleet ? [fleet] : []),
    `it expires ${formatWhen(expires, savedAt)}${options.expiresIn === undefined ? " (the default, a year)" : ""}`,
    await nudgeDaemon(),
  ]);
}

export async function tokenClearCommand(options: TokenOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const profileId = options.profile ?? config.setupTokenProfileId;
  const { vaults, keyringProblem: problem } = await openTokenVaults();
  // A locked keyring cannot be searched: a copy in it is out of sight, and comes back once it is unlocked.
  const hidden = problem?.locked
    ? `; ${problem.text}, so a copy it holds stays: run this again once it is unlocked`
    : "";
  let removed = false;
  for (const vault of vaults) {
    const tokens = await vault.read().catch(() => undefined);
    if (!tokens?.[profileId]) continue;
    delete tokens[profileId];
    await vault.write(tokens);
    removed = true;
    printLines([`removed ${profileId} from ${vault.where}${hidden}`]);
  }
  const fleet = await withFleet(config, process.env, async (member) => {
    await member.removeSetupToken(profileId);
    return `removed ${profileId} from the fleet`;
  });
  if (fleet) {
    printLines([fleet]);
    removed = true;
  }
  if (!removed) throw new AuthSyncError(`no stored setup-token for ${profileId}${hidden}`, "token.missing");
  process.stdout.write("agents keep the copy they hold; the daemon no longer updates it\n");
}

/**
 * Takes `profileId` out of the vaults `stored` is not: an older token left in the file (stored while the keyring
 * was locked) would otherwise come back wherever the keyring cannot be read (a system unit has no session bus).
 * Best effort: the token is stored, and a copy that stays is only said.
 */
async function dropOlderCopies(vaults: TokenVault[], stored: TokenVault, profileId: string): Promise<string[]> {
  const lines: string[] = [];
  for (const vault of vaults) {
    if (vault === stored) continue;
    const tokens = await vault.read().catch(() => undefined);
    if (!tokens?.[profileId]) continue;
    delete tokens[profileId];
    try {
      await vault.write(tokens);
      lines.push(`removed the older ${profileId} from ${vault.where}`);
    } catch (err) {
      lines.push(`the older ${profileId} stays in ${vault.where}: ${messageOf(err)}`);
    }
  }
  return lines;
}

export async function tokenStatusCommand(options: TokenOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const tokens = await readSetupTokens(config.setupTokenProfileId);
  const envValue = process.env[ENV_TOKEN]?.trim();
  let envProblem: string | undefined;
  if (envValue) {
    try {
      validateSetupToken(envValue);
    } catch (err) {
      envProblem = messageOf(err);
    }
  }
  const now = Date.now();
  if (options.json) {
    printJson({
      tokens: tokens.map((t) => ({
        profile: t.profileId,
        fingerprint: fingerprint(t.token),
        origin: t.origin,
        ...(t.savedAt ? { savedAt: t.savedAt } : {}),
        ...(t.expires !== undefined ? { expires: t.expires } : {}),
      })),
      ...(envProblem ? { envProblem } : {}),
    });
  } else if (tokens.length === 0 && !envProblem) {
    process.stdout.write("no setup-token stored; `moltbot-auth-sync token set` stores one\n");
  } else {
    const rows = tokens.map((t) => [
      t.profileId,
      fingerprint(t.token),
      t.savedAt ? `saved ${formatRelative(t.savedAt, now)}` : "",
      t.expires !== undefined ? `expires ${formatWhen(t.expires, now)}` : "expiry unknown",
      t.origin,
    ]);
    printLines(columns(rows));
    if (envProblem) printLines([`${ENV_TOKEN} is set but not used: ${envProblem}`]);
  }
  if (tokens.length === 0) process.exitCode = 1;
}

/**
 * Every agent's token under `profileId` that is not ours (its digest is not in `ours`): one the gateway's
 * `paste-token` or a person put there. A gateway that cannot be read hides none: the pass checks again.
 */
async function foreignTokens(
  config: Config,
  profileId: string,
  ours: ReadonlySet<string>,
): Promise<Array<{ agent: string; secret: string }>> {
  const isOurs = ownedBy(ours);
  const gateways = await findGateways(config).catch(() => undefined);
  const found: Array<{ agent: string; secret: string }> = [];
  for (const gateway of gateways?.found ?? []) {
    const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
    const label = gateways!.stateDirLabel(gateway.stateDir.dir);
    await inSessions([adapter], () =>
      pLimit(AGENT_CONCURRENCY).map(gateway.agents, async (agent) => {
        const store = await adapter.read(agent.dir).catch(() => undefined);
        const secret = profileSecret(store?.profiles[profileId]);
        if (secret !== undefined && !isOurs(secret)) found.push({ agent: agentName(agent.id, label), secret });
      }),
    );
  }
  return found;
}

/** Tells a running daemon to re-read (SIGHUP); says what will happen either way. */
async function nudgeDaemon(): Promise<string> {
  // Only a process proven to be our daemon gets the signal: SIGHUP kills most other programs.
  const pid = await runningDaemonPid(pidFilePath());
  if (pid !== undefined) {
    process.kill(pid, "SIGHUP");
    return `the running daemon (pid ${pid}) copies it into every agent now`;
  }
  return "run `moltbot-auth-sync sync`, or start the daemon, to copy it into every agent";
}

/** Far above a setup-token's ~110 characters; anything longer is not one, and is not read further. */
export const STDIN_LIMIT_BYTES = 4096;

/** Reads one line from stdin; on a terminal, prompts on stderr and does not echo. */
async function readSecretFromStdin(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const text = (await readLimited(process.stdin, STDIN_LIMIT_BYTES)).trim();
    if (text === "")
      throw new AuthSyncError("no token on stdin: pipe it in, e.g. `moltbot-auth-sync token set < token.txt`", "usage");
    return text;
  }
  process.stderr.write(prompt);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: silent, terminal: true });
  const line = await new Promise<string>((resolve) => rl.once("line", resolve));
  rl.close();
  process.stderr.write("\n");
  // readline puts the terminal in raw mode, where a paste has no line limit of its own.
  if (Buffer.byteLength(line) > STDIN_LIMIT_BYTES) throw tooLong(STDIN_LIMIT_BYTES);
  return line;
}

const tooLong = (limit: number) =>
  new AuthSyncError(
    `stdin holds more than ${limit} bytes, which is no setup-token; nothing was stored`,
    "token.invalid",
  );

/** All of `input` as UTF-8, or an error once it passes `limit` bytes: a huge file or /dev/zero is not read on. */
export async function readLimited(input: NodeJS.ReadableStream & { destroy(): void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      input.destroy();
      throw tooLong(limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
