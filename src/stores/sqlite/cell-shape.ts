/**
 * The shape the JSON in our cells must have before we change any of it: the containers we rewrite (`profiles`,
 * `usageStats`) must be maps of objects, and every field our rules read must have the type the gateway writes
 * (openclaw@2026.9.6 `inlineAuthProfileCredentialSchema`, `coerceProfileUsageStats`). A cell of another shape
 * belongs to a format we do not know, so the database is refused rather than rewritten. Unknown fields are
 * allowed and kept as they are: the schema only checks, the cell is written back from the parsed JSON.
 */
import { Issue, looseObject, number, optional, record, string, type Schema } from "../../core/schema.js";
import type { CellRole } from "./cells.js";

const profile = looseObject({
  type: string(),
  provider: string(),
  token: optional(string()),
  access: optional(string()),
  refresh: optional(string()),
  expires: optional(number()),
});

const usageStats = looseObject({
  lastUsed: optional(number()),
  cooldownUntil: optional(number()),
  disabledUntil: optional(number()),
  blockedUntil: optional(number()),
  errorCount: optional(number()),
  failureCounts: optional(record(number())),
  lastFailureAt: optional(number()),
  lastProbeAt: optional(number()),
});

/** `authProfiles.store` / `auth_profile_store`: the credentials. */
const storeCell = looseObject({ profiles: record(profile) });

/** Entries of `order` and `lastGood` we only pass through: the gateway drops the ones it cannot use. */
const anyValue: Schema<unknown> = (value) => value;

/** `authProfiles.state` / `auth_profile_state`: order, lastGood and the usage stats. */
const stateCell = looseObject({
  order: optional(record(anyValue)),
  lastGood: optional(record(anyValue)),
  usageStats: optional(record(usageStats)),
});

const SCHEMAS: Readonly<Record<CellRole, Schema<unknown>>> = { store: storeCell, state: stateCell };

/** Where the JSON departs from the shape we know, as "profiles.x.expires: Invalid input: …"; undefined if it fits. */
export function cellShapeProblem(role: CellRole, value: unknown): string | undefined {
  try {
    SCHEMAS[role](value, []);
    return undefined;
  } catch (err) {
    if (!(err instanceof Issue)) throw err;
    // A key is the gateway's data: shown short, since a hostile one could be any length.
    const where = err.path.map((key) => (String(key).length > 60 ? `${String(key).slice(0, 60)}…` : key)).join(".");
    return where ? `${where}: ${err.message}` : err.message;
  }
}
