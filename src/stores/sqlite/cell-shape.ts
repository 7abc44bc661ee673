/**
 * The shape the JSON in our cells must have before we change any of it: the containers we rewrite (`profiles`,
 * `usageStats`) must be maps of objects, and every field our rules read must have the type the gateway writes
 * (openclaw@2026.9.6 `inlineAuthProfileCredentialSchema`, `coerceProfileUsageStats`). A cell of another shape
 * belongs to a format we do not know, so the database is refused rather than rewritten. Unknown fields are
 * allowed and kept as they are: this only checks, the cell is written back from the parsed JSON.
 *
 * A table of field types rather than zod: this runs in the SQLite child (worker.ts), started for each state dir a
 * pass reaches, where loading zod would add its import time and memory to every start for five field types.
 */
import type { CellRole } from "./cells.js";

/** A map is a JSON object used as one: its keys are free (profile ids, reasons). */
type Kind = "string" | "number" | "map";
/** An object's fields we read, each of a kind (`?` after it when the field may be absent). */
interface Shape {
  fields: Record<string, `${Kind}${"" | "?"}`>;
  /** For a map field, the shape of each of its values (objects, or numbers); a map not listed holds anything. */
  entries?: Record<string, Shape | "number">;
}

const profile: Shape = {
  fields: {
    type: "string",
    provider: "string",
    token: "string?",
    access: "string?",
    refresh: "string?",
    expires: "number?",
  },
};

const usageStats: Shape = {
  fields: {
    lastUsed: "number?",
    cooldownUntil: "number?",
    disabledUntil: "number?",
    blockedUntil: "number?",
    errorCount: "number?",
    failureCounts: "map?",
    lastFailureAt: "number?",
    lastProbeAt: "number?",
  },
  entries: { failureCounts: "number" },
};

const SHAPES: Readonly<Record<CellRole, Shape>> = {
  /** `authProfiles.store` / `auth_profile_store`: the credentials. */
  store: { fields: { profiles: "map" }, entries: { profiles: profile } },
  /** `authProfiles.state` / `auth_profile_state`: order and lastGood, passed through (the gateway drops the
   * entries it cannot use), and the usage stats. */
  state: { fields: { order: "map?", lastGood: "map?", usageStats: "map?" }, entries: { usageStats } },
};

/** The type's name as the problem gives it. */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return typeof value;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function fits(kind: Kind, value: unknown): boolean {
  if (kind === "string") return typeof value === "string";
  if (kind === "number") return typeof value === "number" && Number.isFinite(value);
  return isObject(value);
}

/** A key is the gateway's data: shown short, since a hostile one could be any length. */
const shown = (key: string) => (key.length > 60 ? `${key.slice(0, 60)}…` : key);

function problems(shape: Shape | "number", value: unknown, path: string[], out: string[]): void {
  const where = path.map(shown).join(".");
  const at = where ? `${where}: ` : "";
  if (shape === "number") {
    if (!fits("number", value)) out.push(`${at}expected number, received ${kindOf(value)}`);
    return;
  }
  if (!isObject(value)) return void out.push(`${at}expected object, received ${kindOf(value)}`);
  for (const [key, type] of Object.entries(shape.fields)) {
    const field = Object.hasOwn(value, key) ? value[key] : undefined;
    const kind = type.replace("?", "") as Kind;
    if (field === undefined && type.endsWith("?")) continue;
    const label = kind === "map" ? "record" : kind;
    if (!fits(kind, field)) {
      out.push(`${[...path, key].map(shown).join(".")}: expected ${label}, received ${kindOf(field)}`);
      continue;
    }
    const entries = shape.entries?.[key];
    if (kind === "map" && entries) {
      for (const [name, entry] of Object.entries(field as object)) problems(entries, entry, [...path, key, name], out);
    }
  }
}

/** A hostile cell could hold a problem per key of thousands: the message names the first few and counts the rest. */
const SHOWN_PROBLEMS = 5;

/**
 * Where the JSON departs from the shape we know, one problem per field ("profiles.x.expires: expected number,
 * received string"), joined; undefined if it fits.
 */
export function cellShapeProblem(role: CellRole, value: unknown): string | undefined {
  const found: string[] = [];
  problems(SHAPES[role], value, [], found);
  if (found.length === 0) return undefined;
  const more = found.length - SHOWN_PROBLEMS;
  return [...found.slice(0, SHOWN_PROBLEMS), ...(more > 0 ? [`and ${more} more`] : [])].join("; ");
}
