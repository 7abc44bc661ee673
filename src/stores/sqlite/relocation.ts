/**
 * `openclaw doctor --fix` moves the shared store from the main agent's database into the state database in
 * stages (`migrateSharedAuthStore` in openclaw@2026.9.6): copy, flip the `auth.sharedStore` marker, delete the
 * source rows. Each stage records a `migration_sources` row of kind `shared-auth-store-state-db`, and
 * `removed_source` stays 0 until the source rows are gone. While such a row is pending, a write to either copy
 * could be lost or make doctor's verification fail, so we write neither.
 */
import { type Database, statement } from "./driver.js";
import { tableExists } from "./cells.js";
import type { TableShape } from "./schema.js";

export const SHARED_AUTH_RELOCATION_KIND = "shared-auth-store-state-db";

/** The columns of `migration_sources` read below, as 2026.9.6 declares them; the table appears with doctor --fix. */
export const RELOCATION_TABLE: TableShape = {
  table: "migration_sources",
  optional: true,
  columns: [
    { name: "migration_kind", type: "TEXT" },
    { name: "status", type: "TEXT" },
    { name: "removed_source", type: "INTEGER" },
  ],
};

/** Why the shared store must not be written now, or undefined. Read inside the state database's transaction. */
export function relocationInProgress(stateDb: Database, file: string): string | undefined {
  if (!tableExists(stateDb, "migration_sources")) return undefined;
  const pending = statement(
    stateDb,
    "SELECT status FROM migration_sources WHERE migration_kind = ? AND removed_source = 0 LIMIT 1",
  ).get(SHARED_AUTH_RELOCATION_KIND) as { status?: unknown } | undefined;
  if (!pending) return undefined;
  const stage = typeof pending.status === "string" ? ` (stage ${JSON.stringify(pending.status).slice(0, 40)})` : "";
  const what = `openclaw doctor --fix is relocating the shared auth store${stage} in ${file}`;
  return `${what}; nothing written, retry when it has finished`;
}
