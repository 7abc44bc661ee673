/** Options every command shares, turned into a validated config. */
import { type LoadedConfig, loadConfig } from "../config.js";

export interface GlobalOptions {
  config?: string;
  stateDir?: string;
  logLevel?: string;
}

export function loadCommandConfig(options: GlobalOptions): Promise<LoadedConfig> {
  return loadConfig(options.config, { stateDir: options.stateDir, logLevel: options.logLevel as never });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns for human output. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n");
}
