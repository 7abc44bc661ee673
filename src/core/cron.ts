/**
 * The daemon's schedules (`resyncCron`, `refreshCheckCron`), in local time, without node-cron for the common
 * forms: node-cron reads the clock through `Intl.DateTimeFormat` at every tick, which maps ICU's locale and
 * time zone data, 11 MB of the idle daemon's RSS (measured here: 42 MB for a bare process). Plain `Date`
 * arithmetic needs none of it.
 *
 * Understood here: 5 fields (minute hour day month weekday) or 6 (seconds first); each a list of `*`, `n` or
 * `a-b`, each with an optional `/step`; month and weekday names (`jan`, `monday`); weekday 7 is Sunday. As in
 * node-cron, a time matches when every field does (day of month and weekday both). node-cron's extensions
 * (`L`, `W`, `#`, `?`) are left to node-cron itself (see `isCronExpression` and the daemon's triggers).
 */
import { createRequire } from "node:module";

/** The allowed values of each field, seconds first (0 only, for a 5-field expression). */
export interface CronSpec {
  fields: [boolean[], boolean[], boolean[], boolean[], boolean[], boolean[]];
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface FieldRange {
  min: number;
  max: number;
  /** Names for the values from `min` on, matched by their first three letters or in full. */
  names?: string[];
}
const RANGES: FieldRange[] = [
  { min: 0, max: 59 },
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 7, names: WEEKDAYS },
];

const FULL_NAMES: Record<string, string> = {
  january: "jan",
  february: "feb",
  march: "mar",
  april: "apr",
  june: "jun",
  july: "jul",
  august: "aug",
  september: "sep",
  october: "oct",
  november: "nov",
  december: "dec",
  sunday: "sun",
  monday: "mon",
  tuesday: "tue",
  wednesday: "wed",
  thursday: "thu",
  friday: "fri",
  saturday: "sat",
};

function value(text: string, range: FieldRange): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const name = text.toLowerCase();
  const index = range.names?.indexOf(FULL_NAMES[name] ?? name) ?? -1;
  return index < 0 ? undefined : range.min + index;
}

function field(text: string, range: FieldRange): boolean[] | undefined {
  const allowed = new Array<boolean>(range.max + 1).fill(false);
  for (const item of text.split(",")) {
    const match = /^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:\/(\d+))?$/i.exec(item);
    if (!match) return undefined;
    const [, span, stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    let from = range.min;
    let to = range.max;
    if (span !== "*") {
      const [a, b] = span!.split("-");
      from = value(a!, range) ?? NaN;
      // `n/step` runs from n to the end of the field, as in node-cron and Vixie cron.
      to = b === undefined ? (stepText === undefined ? from : range.max) : (value(b, range) ?? NaN);
    }
    if (!(from >= range.min && to <= range.max && from <= to && step >= 1)) return undefined;
    for (let v = from; v <= to; v += step) allowed[v] = true;
  }
  return allowed;
}

/** The spec of an expression of the forms above; undefined for anything else. */
export function parseCron(expr: string): CronSpec | undefined {
  const parts = expr.trim().split(/\s+/);
  if (parts.length === 5) parts.unshift("0");
  if (parts.length !== 6) return undefined;
  const fields = parts.map((part, i) => field(part, RANGES[i]!));
  if (fields.some((f) => f === undefined)) return undefined;
  const weekdays = fields[5]!;
  if (weekdays[7]) weekdays[0] = true;
  return { fields: fields as CronSpec["fields"] };
}

/** Whether node-cron, for what `parseCron` leaves to it, or `parseCron` accepts `expr`. */
export function isCronExpression(expr: string): boolean {
  if (parseCron(expr)) return true;
  // Only for node-cron's own extensions; loaded then, so the common case never pays for it.
  const nodeCron = createRequire(import.meta.url)("node-cron") as { validate(expr: string): boolean };
  return nodeCron.validate(expr);
}

/** Far enough for any date that exists at all (29 February on a given weekday recurs within 28 years). */
const SEARCH_YEARS = 30;

/** The first time after `after` (local time, whole seconds) that `spec` matches; undefined when none will. */
export function nextCronTime(spec: CronSpec, after: Date): Date | undefined {
  const [seconds, minutes, hours, days, months, weekdays] = spec.fields;
  const start = new Date(after.getTime());
  start.setMilliseconds(0);
  start.setSeconds(start.getSeconds() + 1);
  const first = new Date(start.getFullYear(), start.getMonth(), start.getDate()).getTime();
  const day = new Date(first);
  const last = new Date(start.getFullYear() + SEARCH_YEARS, start.getMonth(), start.getDate());
  for (; day <= last; day.setDate(day.getDate() + 1)) {
    if (!months[day.getMonth() + 1] || !days[day.getDate()] || !weekdays[day.getDay()]) continue;
    const today = day.getTime() === first;
    for (let h = today ? start.getHours() : 0; h < 24; h++) {
      if (!hours[h]) continue;
      const hourStarted = today && h === start.getHours();
      for (let m = hourStarted ? start.getMinutes() : 0; m < 60; m++) {
        if (!minutes[m]) continue;
        const minuteStarted = hourStarted && m === start.getMinutes();
        for (let s = minuteStarted ? start.getSeconds() : 0; s < 60; s++) {
          if (!seconds[s]) continue;
          const at = new Date(day.getFullYear(), day.getMonth(), day.getDate(), h, m, s);
          // A local time that a daylight-saving change skips does not exist: Date moves it, and it is not matched.
          if (at.getHours() === h && at.getMinutes() === m && at >= start) return at;
        }
      }
    }
  }
  return undefined;
}
