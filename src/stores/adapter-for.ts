/**
 * The type -> constructor switch at the edge of the stores: which adapter serves a store generation. Kept apart
 * from the interface (adapter.ts), which every adapter imports, so no adapter imports its own chooser.
 */
import { AuthSyncError } from "../core/errors.js";
import type { StoreAdapter } from "./adapter.js";
import type { Generation } from "./discovery/generation.js";
import { jsonV1Adapter } from "./json-v1/adapter.js";
import { splitAdapter } from "./split/adapter.js";
import { sqliteAdapter } from "./sqlite/adapter.js";

/** The gateway manages auth itself (SQLite); any JSON we wrote would only be mistaken for a legacy store. */
export class UnsupportedGatewayError extends AuthSyncError {
  constructor(generation: Generation) {
    super(
      `OpenClaw ${generation.version ?? "2026.6 or later"} keeps auth in SQLite (${generation.reason}) and ` +
        "reuses the Claude CLI login natively; nothing written. Use the gateway instead: " +
        "openclaw models auth login --provider anthropic --method cli --set-default",
      "store.unsupported",
    );
  }
}

/** The adapter for a generation; the SQLite one needs the state dir, where its shared store lives. */
export function adapterFor(generation: Generation, stateDir?: string): StoreAdapter {
  if (generation.format === "sqlite") {
    if (stateDir === undefined) throw new UnsupportedGatewayError(generation);
    return sqliteAdapter(stateDir);
  }
  return generation.format === "split" ? splitAdapter : jsonV1Adapter;
}
