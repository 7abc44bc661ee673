/**
 * The setup-token vault file written directly, as a test sets up a stored token's dates, and the token book
 * (sources/token-book.ts) as `token set` leaves it: every token written here counts as ours.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tokenDigest } from "../../src/sources/token-book.js";
import type { TestHome } from "./env.js";

export const vaultFile = (t: TestHome) => path.join(t.home, ".config", "moltbot-auth-sync", "setup-tokens.json");

export function writeVault(t: TestHome, tokens: Record<string, { token?: unknown } & Record<string, unknown>>): void {
  const file = vaultFile(t);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify({ version: 1, tokens }), { mode: 0o600 });
  const bookFile = path.join(path.dirname(file), "token-book.json");
  let book: Record<string, string[]> = {};
  try {
    book = (JSON.parse(readFileSync(bookFile, "utf8")) as { profiles: Record<string, string[]> }).profiles;
  } catch {
    // none yet
  }
  for (const [id, stored] of Object.entries(tokens)) {
    if (typeof stored.token === "string") book[id] = [...(book[id] ?? []), tokenDigest(stored.token)];
  }
  writeFileSync(bookFile, JSON.stringify({ version: 1, profiles: book }), { mode: 0o600 });
}
