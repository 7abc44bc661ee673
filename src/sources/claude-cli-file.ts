/**
 * Source: the Claude Code CLI's credentials file, `${CLAUDE_CONFIG_DIR:-~/.claude}/.credentials.json`.
 * Read-only: the file belongs to `claude`, which refreshes it; we never write it or spend its refresh token.
 */
import os from "node:os";
import path from "node:path";
import * as z from "zod";
import { DAY } from "../core/duration.js";
import { SourceError, errnoCode, messageOf } from "../core/errors.js";
import { type SourceCredential, MAX_EXPIRY_AHEAD_MS } from "../types.js";
import { readRegularFile } from "../fs/read-file.js";
import { retry } from "../core/retry.js";

export const CREDENTIALS_FILENAME = ".credentials.json";

const NOT_LOGGED_IN_HINT = "run `claude` and /login, or use a setup-token";

/** Epoch ms below this (2001-09-09) can only be seconds: a seconds value for 2026 is about 1.8e9. */
const MIN_EPOCH_MS = 1e12;
/**
 * The login's end as Claude Code takes it (2.1.332): from 2025-01-01 to ten years ahead, and not outlived by the
 * access token by more than three days. Outside that the CLI disregards the value, and so do we: read as a date, it
 * would end a login `claude` still serves.
 */
const MIN_LOGIN_END_MS = Date.UTC(2025, 0, 1);
const MAX_LOGIN_END_AHEAD_MS = 3650 * DAY;
const LOGIN_END_OUTLIVED_MS = 3 * DAY;
// Unknown fields (`subscriptionTypeSource`, and beside claudeAiOauth `hybridOauth`, `mcpOAuth`, …) are allowed and
// dropped: the file is claude's, and we never write it.
const oauthSchema = z.looseObject({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).nullish(),
  expiresAt: z.number().int().positive(),
  /** Claude Code 2.1.x: the login's hard end (epoch ms), which refreshing never moves later; judged by loginEnd. */
  refreshTokenExpiresAt: z.unknown().optional(),
  scopes: z.array(z.string()).nullish(),
  subscriptionType: z.string().nullish(),
});

const fileSchema = z.looseObject({ claudeAiOauth: oauthSchema.optional() });

export function claudeConfigDir(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return configured ?? env.CLAUDE_CONFIG_DIR ?? path.join(env.HOME || os.homedir(), ".claude");
}

export function credentialsPath(configDir: string): string {
  return path.join(configDir, CREDENTIALS_FILENAME);
}

/** Parses the CLI's JSON; throws a `SourceError` whose message names the field at fault. */
export function parseClaudeCredentials(text: string, origin: string, now = Date.now()): SourceCredential {
  if (text.trim() === "") throw new SourceError(`credentials ${origin} is empty`, "invalid");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SourceError(`credentials ${origin} is not valid JSON (truncated or corrupt)`, "invalid");
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    // Every problem, each naming its field; joined, since a source error is one line wherever it is shown.
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.length > 0 ? issue.path.join(".") : "top level"}: ${issue.message}`,
    );
    throw new SourceError(`credentials ${origin}: ${problems.join("; ")}`, "invalid");
  }
  const oauth = parsed.data.claudeAiOauth;
  if (!oauth) {
    throw new SourceError(
      `credentials ${origin} holds no Claude subscription login (no claudeAiOauth): ${NOT_LOGGED_IN_HINT}`,
      "not_logged_in",
    );
  }
  if (oauth.expiresAt < MIN_EPOCH_MS) {
    throw new SourceError(
      `credentials ${origin}: claudeAiOauth.expiresAt ${oauth.expiresAt} looks like seconds; ` +
        "expected epoch milliseconds",
      "invalid",
    );
  }
  if (oauth.expiresAt > now + MAX_EXPIRY_AHEAD_MS) {
    const date = new Date(oauth.expiresAt);
    const when = Number.isFinite(date.getTime()) ? date.toISOString() : "beyond any date";
    const what = `claudeAiOauth.expiresAt ${oauth.expiresAt} (${when}) is more than 400 days ahead; not a real login`;
    throw new SourceError(`credentials ${origin}: ${what}`, "invalid");
  }
  const loginEndsAt = loginEnd(oauth.refreshTokenExpiresAt, oauth.expiresAt, now);
  return {
    origin,
    accessToken: oauth.accessToken,
    ...(oauth.refreshToken ? { refreshToken: oauth.refreshToken } : {}),
    expiresAt: oauth.expiresAt,
    ...(loginEndsAt !== undefined ? { loginEndsAt } : {}),
    subscriptionType: oauth.subscriptionType ?? null,
    // Only ever a hint of who the login is (recovery.ts): a field of the wrong type is no reason to refuse the login.
    ...accountUuidOf(oauth),
  };
}

/** `refreshTokenExpiresAt` when Claude Code itself would take it as the login's end; otherwise no end. */
function loginEnd(at: unknown, expiresAt: number, now: number): number | undefined {
  if (typeof at !== "number" || !Number.isSafeInteger(at)) return undefined;
  if (at < MIN_LOGIN_END_MS || at > now + MAX_LOGIN_END_AHEAD_MS) return undefined;
  return expiresAt > at + LOGIN_END_OUTLIVED_MS ? undefined : at;
}

function accountUuidOf(oauth: Record<string, unknown>): { accountUuid?: string } {
  const { accountUuid } = oauth;
  return typeof accountUuid === "string" && accountUuid.trim() ? { accountUuid: accountUuid.trim() } : {};
}

/**
 * Reads the file. Older CLIs rewrite it in place, so a parse failure is retried briefly before it counts.
 */
export async function readClaudeCliFile(file: string, attempts = 3): Promise<SourceCredential> {
  return retry(async () => parseClaudeCredentials(await readCredentialsText(file), file), {
    retryable: (err) => err instanceof SourceError && err.problem === "invalid",
    delayMs: (attempt) => 40 * attempt,
    attempts,
  });
}

async function readCredentialsText(file: string): Promise<string> {
  try {
    return await readRegularFile(file);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new SourceError(`not logged in to Claude Code (no ${file}): ${NOT_LOGGED_IN_HINT}`, "not_logged_in");
    }
    throw new SourceError(`credentials ${file} cannot be read: ${messageOf(err)}`, "unreadable");
  }
}
