/**
 * The switch at the edge of the stores: every generation this program serves, one folder each, and which one
 * serves a store generation. Kept apart from the interface (adapter.ts), which every adapter imports, so no
 * adapter imports its own chooser.
 */
import { AuthSyncError } from "../core/errors.js";
import type { StoreAdapter, StoreGeneration } from "./adapter.js";
import type { Generation, StoreFormat } from "./discovery/generation.js";
import { jsonV1 } from "./json-v1/generation.js";
import { split } from "./split/generation.js";
import { sqlite } from "./sqlite/generation.js";

const GENERATIONS: { readonly [F in StoreFormat]: StoreGeneration } = {
  "json-v1": jsonV1,
  split,
  sqlite,
};

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

export function generationFor(generation: Generation): StoreGeneration {
  return GENERATIONS[generation.format];
}

/** The adapter for a generation; the SQLite one needs the state dir, where its shared store lives. */
export function adapterFor(generation: Generation, stateDir?: string): StoreAdapter {
  if (stateDir === undefined && generation.format === "sqlite") throw new UnsupportedGatewayError(generation);
  // The JSON eras' adapters keep nothing of the state dir: each agent's store is its own.
  return generationFor(generation).adapter(stateDir ?? "");
}

/** What every generation declares with `pick`, each declaration once (the JSON eras share theirs). */
export function declared<T>(pick: (generation: StoreGeneration) => T | undefined): T[] {
  return [...new Set(Object.values(GENERATIONS).map(pick))].filter((value) => value !== undefined);
}
