/** One readable line per log record, for `--pretty` and for reading logs back. */
import { escapeControl } from "../core/terminal-text.js";

const CORE_KEYS = new Set(["time", "level", "pid", "event", "msg", "hostname", "v"]);

export interface LogRecord {
  time?: string | number;
  level?: string | number;
  event?: string;
  msg?: string;
  [key: string]: unknown;
}

/** pino's levels, lowest first; `silent` (config only) turns logging off. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number] | "silent";

const NUMERIC_LEVELS: Record<number, string> = Object.fromEntries(LOG_LEVELS.map((name, i) => [10 * (i + 1), name]));

export function levelName(level: LogRecord["level"]): string {
  return typeof level === "number" ? (NUMERIC_LEVELS[level] ?? String(level)) : String(level ?? "info");
}

/**
 * `2026-11-25 03:12:04 WARN  refresh.failed  claude exited 1 … agent=main reason=auth`. JSON kept the
 * record's control characters escaped; parsed back they are raw again, so the line escapes them.
 */
export function formatLogLine(record: LogRecord): string {
  const time = record.time === undefined ? "" : new Date(record.time).toISOString().replace("T", " ").slice(0, 19);
  const fields = Object.entries(record)
    .filter(([key, value]) => !CORE_KEYS.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const level = levelName(record.level).toUpperCase().padEnd(5);
  const line = [time, level, String(record.event ?? "-").padEnd(17), String(record.msg ?? ""), ...fields];
  return escapeControl(line.filter((s) => s !== "").join("  "));
}
