/**
 * Reading daemon logs back: which records an admin asked for (`logs --since --level --event --agent`,
 * `--state-dir`).
 */
import { parseDuration } from "../core/duration.js";
import { LOG_LEVELS, type LogRecord, levelName } from "./format.js";

const LEVELS: readonly string[] = LOG_LEVELS;

export interface LogFilter {
  since?: number;
  minLevel?: string;
  /** An event name, or its group: `refresh` matches `refresh.started`, `refresh.failed`, … */
  event?: string;
  agent?: string;
  /** A gateway's state dir (config `stateDirs`): lines about it, by `stateDir` or among `stateDirs`. */
  stateDir?: string;
}

/** `--since`: a duration back from now ("1h", "30m") or a date ("2026-11-25 03:00", ISO). */
export function parseSince(value: string, now = Date.now()): number | undefined {
  const back = parseDuration(value);
  if (back !== undefined) return now - back;
  const at = Date.parse(value.includes("T") || !value.includes(" ") ? value : value.replace(" ", "T"));
  return Number.isNaN(at) ? undefined : at;
}

export function isLevel(value: string): boolean {
  return LEVELS.includes(value);
}

export function parseRecord(line: string): LogRecord | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}

export function matchesFilter(record: LogRecord, filter: LogFilter): boolean {
  if (filter.since !== undefined) {
    const at = record.time === undefined ? Number.NaN : new Date(record.time).getTime();
    if (!(at >= filter.since)) return false;
  }
  if (filter.minLevel && LEVELS.indexOf(levelName(record.level)) < LEVELS.indexOf(filter.minLevel)) return false;
  if (filter.event && record.event !== filter.event && !record.event?.startsWith(`${filter.event}.`)) return false;
  if (filter.agent && record.agent !== filter.agent) return false;
  if (filter.stateDir && record.stateDir !== filter.stateDir) {
    const among = Array.isArray(record.stateDirs) && record.stateDirs.includes(filter.stateDir);
    if (!among) return false;
  }
  return true;
}
