/** Durations in config and flags: `"30m"`, `"120s"`, `"1h"`, `"500ms"`, `"1d"`, or a number of milliseconds. */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Returns milliseconds, or undefined when the text is not a duration. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

/** "3h12m", "5m", "42s": the two largest units, for people reading status lines. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3_600);
  const m = Math.floor((total % 3_600) / 60);
  const s = total % 60;
  if (d > 0) return h > 0 ? `${d}d${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h${m}m` : `${h}h`;
  if (m > 0) return s > 0 && m < 10 ? `${m}m${s}s` : `${m}m`;
  return `${s}s`;
}

/** "in 3h12m" or "5m ago", relative to now. */
export function formatRelative(at: number, now: number): string {
  return at >= now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}

/** "in 9d23h (2026-12-11 09:50 UTC)": relative for people, absolute for calendars (a setup-token's expiry). */
export function formatWhen(at: number, now: number): string {
  return `${formatRelative(at, now)} (${new Date(at).toISOString().slice(0, 16).replace("T", " ")} UTC)`;
}
