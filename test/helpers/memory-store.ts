/**
 * A StoreAdapter that keeps each agent's store in memory, by the JSON era's rules: the run can be tested
 * directly, without files, locks or a daemon (as Vault Agent's sinks have a mock). It records every write, and
 * an agent can be made to fail its next updates.
 */
import { jsonUsageRules } from "../../src/reconcile/cooldown-json.js";
import type { StoreAdapter, StoreChange, UpdateOptions, UpdateResult } from "../../src/stores/adapter.js";
import type { Agent } from "../../src/stores/discovery/agents.js";
import type { AuthProfileStore } from "../../src/types.js";

export class MemoryStores {
  readonly stores = new Map<string, AuthProfileStore>();
  /** Each store written, in order, by agent dir. */
  readonly written: string[] = [];
  /** Agent dirs whose updates throw this message. */
  readonly failing = new Map<string, string>();

  readonly adapter: StoreAdapter = {
    format: "json-v1",
    usage: jsonUsageRules,
    read: (dir) => Promise.resolve(this.stores.get(dir)),
    update: <T>(dir: string, change: (store: AuthProfileStore) => StoreChange<T>, options: UpdateOptions) =>
      this.update(dir, change, options),
    files: (dir) => [`${dir}/auth-profiles.json`],
  };

  /** Agents `ids` under one state dir, each holding `store` (a copy) when given. */
  agents(ids: readonly string[], store?: AuthProfileStore): Agent[] {
    return ids.map((id) => {
      const dir = `/memory/agents/${id}/agent`;
      if (store) this.stores.set(dir, structuredClone(store));
      return { id, dir, stateDir: "/memory" };
    });
  }

  private update<T>(
    dir: string,
    change: (store: AuthProfileStore) => StoreChange<T>,
    options: UpdateOptions,
  ): Promise<UpdateResult<T>> {
    const failure = this.failing.get(dir);
    if (failure !== undefined) return Promise.reject(new Error(failure));
    const store = this.stores.get(dir) ?? { version: 1, profiles: {} };
    const { next, outcome } = change(store);
    if (next === store || options.dryRun) return Promise.resolve({ outcome, writes: [], warnings: [] });
    this.stores.set(dir, next);
    this.written.push(dir);
    return Promise.resolve({ outcome, writes: [], warnings: [] });
  }
}
