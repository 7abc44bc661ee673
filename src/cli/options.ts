/** Options every command shares, turned into a validated config. */
import { type Config, type ConfigInput, type LoadedConfig, loadConfig } from "../config.js";
import { lockJournalPath } from "../daemon/runtime-files.js";
import type { UpdateOptions } from "../stores/adapter.js";
import { recoverLocks } from "../stores/lock-journal.js";

export interface GlobalOptions {
  config?: string;
  stateDir?: string;
  logLevel?: string;
}

export function loadCommandConfig(options: GlobalOptions): Promise<LoadedConfig> {
  return loadConfig(options.config, { stateDir: options.stateDir, logLevel: options.logLevel as ConfigInput["logLevel"] });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns for human output. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

/** Store-write options for a command; first removes any lock a killed run of ours left behind. */
export async function writeOptions(config: Config, dryRun?: boolean): Promise<UpdateOptions> {
  const lockJournal = lockJournalPath();
  for (const lock of await recoverLocks(lockJournal)) process.stderr.write(`note: removed ${lock}, left by a killed moltbot-auth-sync\n`);
  return { lockTimeoutMs: config.lockTimeout, lockJournal, ...(dryRun ? { dryRun } : {}) };
}
