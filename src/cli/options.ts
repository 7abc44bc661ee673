/** Options every command shares, turned into a validated config. */
import { type Config, type ConfigInput, type LoadedConfig, loadConfig } from "../config/config.js";
import { lockJournalPath } from "../runtime/files.js";
import type { UpdateOptions } from "../stores/adapter.js";
import { recoverLeftLocks } from "../stores/leftovers.js";
import { jsonSafe } from "../core/terminal-text.js";
import { printLines } from "./print.js";

export interface GlobalOptions {
  config?: string;
  stateDir?: string;
  logLevel?: string;
}

export function loadCommandConfig(options: GlobalOptions): Promise<LoadedConfig> {
  return loadConfig(options.config, {
    stateDir: options.stateDir,
    logLevel: options.logLevel as ConfigInput["logLevel"],
  });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${jsonSafe(JSON.stringify(value, null, 2))}\n`);
}

/** Store-write options for a command; first removes any lock a killed run of ours left behind. */
export async function writeOptions(config: Config, dryRun?: boolean): Promise<UpdateOptions> {
  const lockJournal = lockJournalPath();
  for (const lock of await recoverLeftLocks(lockJournal)) {
    printLines([`note: removed ${lock}, left by a killed moltbot-auth-sync`], process.stderr);
  }
  return { lockTimeoutMs: config.lockTimeout, lockJournal, ...(dryRun ? { dryRun } : {}) };
}
