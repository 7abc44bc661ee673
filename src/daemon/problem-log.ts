/**
 * Logs each problem once when it starts (or changes) and once when it clears, never once per tick, so a
 * broken file or a locked store cannot flood the journal.
 */
import type { Logger } from "pino";
import type { LogEvent } from "../log/logger.js";

export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

/** Sees every event the daemon logs (the metrics counters). */
export interface EventObserver {
  observe(level: Level, event: LogEvent, fields: Fields): void;
}

export class ProblemLog {
  private open = new Map<string, { msg: string; level: Level }>();
  /** The last warn or error, for the state file; `clearedAt` once that problem ended. */
  last: { at: number; event: string; message: string; clearedAt?: number; key?: string } | undefined;

  observer: EventObserver | undefined;

  constructor(private readonly log: Logger) {}

  event(level: Level, event: LogEvent, msg: string, fields: Fields = {}): void {
    this.log[level]({ event, ...fields }, msg);
    this.observer?.observe(level, event, fields);
  }

  problem(key: string, level: Level, event: LogEvent, msg: string, fields: Fields = {}): void {
    if (this.open.get(key)?.msg === msg) return;
    this.open.set(key, { msg, level });
    this.event(level, event, msg, fields);
    if (level === "warn" || level === "error") this.last = { at: Date.now(), event, message: msg, key };
  }

  /** Ends a problem; the recovery is logged only for problems that were logged as warn or error. */
  clear(key: string, event: LogEvent, msg: string, fields: Fields = {}): void {
    const open = this.open.get(key);
    if (!open) return;
    this.forget(key);
    if (open.level === "warn" || open.level === "error") this.event("info", event, msg, fields);
  }

  /** Ends a problem whose end the caller logs itself. */
  forget(key: string): void {
    this.open.delete(key);
    if (this.last?.key === key && this.last.clearedAt === undefined) this.last.clearedAt = Date.now();
  }

  isOpen(key: string): boolean {
    return this.open.has(key);
  }

  /**
   * A view for one login: its lines carry `fields` (which login) and its problems are kept apart from another
   * login's under `prefix`; state (open problems, the last error, the observer) stays shared. No prefix: this log.
   */
  scoped(prefix: string, fields: Fields): ProblemLog {
    if (!prefix) return this;
    const view = Object.create(this) as ProblemLog;
    const key = (name: string) => `${prefix}:${name}`;
    view.event = (level, event, msg, more = {}) => this.event(level, event, msg, { ...more, ...fields });
    view.problem = (name, level, event, msg, more = {}) =>
      this.problem(key(name), level, event, msg, { ...more, ...fields });
    view.clear = (name, event, msg, more = {}) => this.clear(key(name), event, msg, { ...more, ...fields });
    view.forget = (name) => this.forget(key(name));
    view.isOpen = (name) => this.isOpen(key(name));
    return view;
  }
}
