/**
 * Durations in config and flags: `"30m"`, `"120s"`, `"1h"`, `"500ms"`, `"1d"` (any unit `ms` reads), or a
 * number of milliseconds. `ms` parses and `pretty-ms` formats; the wrappers keep what they do not: a string
 * needs its unit (a bare "2026" is a date to `logs --since`, not 2 s), and status lines print "3h12m".
 */
import ms from "ms";
import prettyMs from "pretty-ms";

/** Returns milliseconds, or undefined when the value is not a non-negative duration. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (!/^\d/.test(text) || !/[a-z]$/i.test(text)) return undefined;
  const parsed = ms(text as ms.StringValue) as number | undefined;
  return parsed !== undefined && Number.isFinite(parsed) ? Math.round(parsed) : undefined;
}

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * "3h12m", "5m3s", "42s": the two largest units, for people reading status lines. pretty-ms has no "drop the
 * seconds from 10 minutes on" and spaces its units, so the value is cut to the precision shown first.
 */
export function formatDuration(duration: number): string {
  const rounded = Math.max(0, Math.round(duration / SECOND)) * SECOND;
  if (rounded === 0) return "0s";
  const unit = rounded >= DAY ? HOUR : rounded >= 10 * MINUTE ? MINUTE : SECOND;
  return prettyMs(rounded - (rounded % unit), { hideYear: true, unitCount: 2 }).replaceAll(" ", "");
}

/** "in 3h12m" or "5m ago", relative to now. */
export function formatRelative(at: number, now: number): string {
  return at >= now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}

/** "in 9d23h (2026-12-11 09:50 UTC)": relative for people, absolute for calendars (a setup-token's expiry). */
export function formatWhen(at: number, now: number): string {
  return `${formatRelative(at, now)} (${formatUtc(at)})`;
}

/** "2026-12-11 09:50 UTC", to the minute. */
export function formatUtc(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
