/** Where credentials come from. Each source is read-only and yields one `SourceCredential`. */
import type { Config } from "../config.js";
import type { SourceCredential } from "../types.js";
import { claudeConfigDir, credentialsPath, readClaudeCliFile } from "./claude-cli-file.js";

export function claudeCredentialsFile(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return credentialsPath(claudeConfigDir(config.claudeConfigDir, env));
}

/** The Claude Code login, as `claude` itself last saved it. */
export function readClaudeLogin(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<SourceCredential> {
  return readClaudeCliFile(claudeCredentialsFile(config, env));
}
