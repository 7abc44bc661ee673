/**
 * Which held tokens are ours to replace, per profile id: the digest of every setup-token `token set` stored under
 * it, and of every token the user told it to replace (`token set --replace`). A token the gateway's own
 * `paste-token` put under an id is someone else's: `token set` refuses it, and a pass leaves it, until the user
 * says so. Digests only, never a token, in a 0600 file beside the vault file; apart from the vault, so that
 * `token clear` does not forget which copies the agents still hold are ours.
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { errnoCode, messageOf } from "../core/errors.js";
import { PRIVATE_DIR_MODE, writeFileAtomically } from "../fs/atomic-write.js";
import { readRegularFile } from "../fs/read-file.js";
import { tokenFilePath } from "./token-vault.js";

/** Per profile id, newest last. */
export type TokenBook = Record<string, string[]>;

/** More than any id sees in years of yearly setup-tokens; the oldest go first. */
const MAX_PER_PROFILE = 64;
const DIGEST = /^[a-f0-9]{64}$/;

/** The digest a token is known by here: sha256 of the token, bound to this use. */
export function tokenDigest(token: string): string {
  return createHash("sha256")
    .update(JSON.stringify(["moltbot-auth-sync.setup-token", 1, token]))
    .digest("hex");
}

/** Whether a held secret is one of these digests' tokens: the one test of "ours" (pass, status, token set, remove). */
export function ownedBy(digests: Iterable<string>): (secret: string) => boolean {
  const known = new Set(digests);
  return (secret) => known.has(tokenDigest(secret));
}

export function tokenBookPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(path.dirname(tokenFilePath(env)), "token-book.json");
}

/** Whatever the file holds: entries of the wrong shape are dropped; a missing or corrupt file is an empty book. */
export async function readTokenBook(env: NodeJS.ProcessEnv = process.env): Promise<TokenBook> {
  let text: string;
  try {
    text = await readRegularFile(tokenBookPath(env), { followSymlinks: false });
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return {};
    // Unreadable means nothing is known to be ours: held tokens are then left alone, which is the safe side.
    throw new Error(`cannot read ${tokenBookPath(env)}: ${messageOf(err)}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {};
  }
  const profiles = (json as { profiles?: unknown } | null)?.profiles;
  const book: TokenBook = {};
  if (typeof profiles !== "object" || profiles === null) return book;
  for (const [id, digests] of Object.entries(profiles)) {
    if (!Array.isArray(digests)) continue;
    const valid = digests.filter((d): d is string => typeof d === "string" && DIGEST.test(d));
    if (valid.length) book[id] = valid.slice(-MAX_PER_PROFILE);
  }
  return book;
}

/** Adds `tokens`' digests under `profileId`; written only when that changes the book. */
export async function recordTokens(
  profileId: string,
  tokens: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const book = await readTokenBook(env).catch((): TokenBook => ({}));
  const known = book[profileId] ?? [];
  const added = tokens.map(tokenDigest).filter((d, i, all) => !known.includes(d) && all.indexOf(d) === i);
  if (added.length === 0) return;
  book[profileId] = [...known, ...added].slice(-MAX_PER_PROFILE);
  const file = tokenBookPath(env);
  await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  await writeFileAtomically(file, `${JSON.stringify({ version: 1, profiles: book }, null, 2)}\n`);
}
