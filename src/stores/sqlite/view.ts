/**
 * Pure: how one agent sees auth in this generation, and where each change belongs.
 * An agent reads the shared store and, once its database exists, its own; its own profile of an id shadows the
 * shared one (`mergeLocalAuthProfileStoreWithInheritedStore`). A profile's usage stats live in the state cell of
 * the store that holds the profile (`resolvePersistedAuthProfileOwnerAgentDir`): one cooldown for every agent
 * that reads a shared profile. New profiles go to the shared store, so every agent that reads it has them.
 */
import { isDeepStrictEqual } from "node:util";
import { StoreError } from "../../core/errors.js";
import type { AuthProfileStore } from "../../types.js";
import type { JsonObject } from "./cells.js";

/** The raw JSON of one store's two cells; undefined where the row does not exist. */
export interface StoreCells {
  store?: JsonObject;
  state?: JsonObject;
}

export interface AgentCells {
  shared: StoreCells;
  /** The agent's own database; undefined when it has none, or when its database is the shared store. */
  local?: StoreCells;
}

export type Owner = "shared" | "local";

const record = (value: unknown): JsonObject =>
  value && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};
const profilesOf = (cells: StoreCells | undefined) => record(cells?.store?.profiles);
const statsOf = (cells: StoreCells | undefined) => record(cells?.state?.usageStats);

export function ownerOf(cells: AgentCells, profileId: string): Owner {
  return cells.local && Object.hasOwn(profilesOf(cells.local), profileId) ? "local" : "shared";
}

/** The agent's view, in the shape reconcile and the cooldown rules work on. */
export function agentView(cells: AgentCells): AuthProfileStore {
  const profiles = { ...profilesOf(cells.shared), ...profilesOf(cells.local) } as AuthProfileStore["profiles"];
  const usageStats: JsonObject = {};
  const ids = [...Object.keys(statsOf(cells.shared)), ...Object.keys(statsOf(cells.local)), ...Object.keys(profiles)];
  for (const id of new Set(ids)) {
    const stats = statsOf(ownerOf(cells, id) === "local" ? cells.local : cells.shared)[id];
    if (stats !== undefined) usageStats[id] = stats;
  }
  const pick = (key: string) => cells.local?.state?.[key] ?? cells.shared.state?.[key];
  const view: AuthProfileStore = { version: 1, profiles, usageStats: usageStats as AuthProfileStore["usageStats"] };
  for (const key of ["order", "lastGood"] as const) if (pick(key) !== undefined) view[key] = pick(key) as never;
  return view;
}

/** What never goes into this generation's stores, whoever asks: see docs/compatibility.md, `sqlite`. */
export function forbiddenProfile(profileId: string, profile: Record<string, unknown> | undefined): string | undefined {
  if (profile === undefined) return undefined;
  if (profileId === "anthropic:claude-cli") return `${profileId} is retired in this gateway generation, never written`;
  if (profile.type === "oauth" || "refresh" in profile) {
    return `${profileId}: this gateway refreshes stored oauth profiles itself; a refresh token is never written`;
  }
  return undefined;
}

/** The new raw cells for each store a change touches; stores it does not touch are absent. */
export interface CellWrites {
  shared?: StoreCells;
  local?: StoreCells;
}

function changedIds(before: JsonObject, after: JsonObject): string[] {
  const ids = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...ids].filter((id) => !isDeepStrictEqual(before[id], after[id]));
}

function withEntry(cell: JsonObject | undefined, section: string, id: string, value: unknown): JsonObject {
  const base = cell ?? { version: 1 };
  const entries = { ...record(base[section]) };
  if (value === undefined) delete entries[id];
  else entries[id] = value;
  return { ...base, [section]: entries };
}

/**
 * Maps `next` (the view after a pure change) back onto the cells: each changed profile and usage entry goes to
 * its owner's cell, every other field of every cell stays as it was.
 */
export function cellWrites(cells: AgentCells, view: AuthProfileStore, next: AuthProfileStore): CellWrites {
  for (const key of Object.keys({ ...view, ...next })) {
    if (key !== "profiles" && key !== "usageStats" && !isDeepStrictEqual(view[key], next[key])) {
      throw new StoreError(`a change to "${key}" cannot be written to a SQLite-era store`, "invalid");
    }
  }
  const writes: { shared?: StoreCells; local?: StoreCells } = {};
  const target = (owner: Owner): StoreCells => {
    const source = owner === "local" ? cells.local! : cells.shared;
    writes[owner] ??= { ...source };
    return writes[owner];
  };
  const profilesAfter = record(next.profiles);
  for (const id of changedIds(record(view.profiles), profilesAfter)) {
    const refusal = forbiddenProfile(id, profilesAfter[id] as Record<string, unknown> | undefined);
    if (refusal) throw new StoreError(`${refusal}; nothing written`, "invalid");
    const cell = target(ownerOf(cells, id));
    cell.store = withEntry(cell.store, "profiles", id, profilesAfter[id]);
  }
  for (const id of changedIds(record(view.usageStats), record(next.usageStats))) {
    const cell = target(ownerOf(cells, id));
    cell.state = withEntry(cell.state, "usageStats", id, record(next.usageStats)[id]);
  }
  return writes;
}
