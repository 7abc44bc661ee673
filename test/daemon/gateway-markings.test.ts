/** Telling the gateway's markings from ours, by each generation's rules, without a daemon. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GatewayMarkings } from "../../src/daemon/gateway-markings.js";
import type { StoreAdapter } from "../../src/stores/adapter.js";
import { jsonUsageRules } from "../../src/reconcile/cooldown-json.js";
import { sqliteUsageRules } from "../../src/reconcile/cooldown-sqlite.js";
import type { AuthProfileStore, ProfileUsageStats } from "../../src/types.js";

const ID = "anthropic:login";
const NOW = Date.UTC(2026, 5, 1);

/** An adapter over one store that every agent shares, as the SQLite era's shared store is. */
function sharedStore(usage?: StoreAdapter["usage"]) {
  const rules = usage ?? jsonUsageRules;
  let store: AuthProfileStore = { profiles: {}, usageStats: {} };
  const adapter: StoreAdapter = {
    format: usage ? "sqlite" : "json-v1",
    usage: rules,
    read: () => Promise.resolve(store),
    update: (_dir, change) => {
      store = change(store).next;
      return Promise.resolve({ outcome: undefined as never, writes: [], warnings: [] });
    },
    files: (dir) => [`${dir}/store`],
  };
  const mark = (stats: ProfileUsageStats) => (store = { ...store, usageStats: { [ID]: stats } });
  return { adapter, mark, read: () => store };
}

test("gateway markings: our marking for one agent is not the gateway's in another that shares its store", async () => {
  const markings = new GatewayMarkings(() => ID);
  const { adapter, read, mark } = sharedStore(sqliteUsageRules);
  await markings.learn([{ id: "main", dir: "/a/main", stateDir: "/a" }], adapter);
  await markings.learn([{ id: "work", dir: "/a/work", stateDir: "/a" }], adapter);
  const ours = { disabledUntil: NOW + 3_600_000, disabledReason: "auth_permanent", errorCount: 1 };
  const change = (store: AuthProfileStore) => ({ next: { ...store, usageStats: { [ID]: ours } }, outcome: undefined });
  await markings.tracking(adapter).update("/a/main", change, { lockTimeoutMs: 1 });
  assert.equal(markings.isNewMarking("/a/main", read(), adapter, NOW), false);
  assert.equal(markings.isNewMarking("/a/work", read(), adapter, NOW), false, "the shared store shows ours");
  mark({ cooldownUntil: NOW + 60_000, cooldownReason: "auth", failureCounts: { auth: 1 }, errorCount: 1 });
  assert.equal(markings.isNewMarking("/a/work", read(), adapter, NOW), true, "a new marking of the gateway's");
  assert.equal(markings.isNewMarking("/a/work", read(), adapter, NOW), false, "seen once");
});

test("gateway markings: a SQLite-era block is a marking by that generation's rules", () => {
  const markings = new GatewayMarkings(() => ID);
  const { adapter, mark, read } = sharedStore(sqliteUsageRules);
  // `blockedUntil` exists only in the SQLite era: the JSON era's rule does not see it.
  mark({ blockedUntil: NOW + 60_000, failureCounts: { auth: 1 }, errorCount: 1 });
  assert.equal(markings.isNewMarking("/a/main", read(), adapter, NOW), true);
  const json = sharedStore();
  json.mark({ blockedUntil: NOW + 60_000, failureCounts: { auth: 1 }, errorCount: 1 });
  assert.equal(markings.isNewMarking("/a/other", json.read(), json.adapter, NOW), false);
});

test("gateway markings: a read in the middle of our clearing write shows the marking answered already", async () => {
  const markings = new GatewayMarkings(() => ID);
  const { adapter, mark, read } = sharedStore(sqliteUsageRules);
  await markings.learn([{ id: "main", dir: "/a/main", stateDir: "/a" }], adapter);
  mark({ cooldownUntil: NOW + 60_000, cooldownReason: "auth", failureCounts: { auth: 1 }, errorCount: 1 });
  const marked = read();
  assert.equal(markings.isNewMarking("/a/main", marked, adapter, NOW), true, "answered once");
  // Our clearing write is remembered before it commits; a watcher's read meanwhile still sees the marking.
  let during: boolean | undefined;
  const clear = (store: AuthProfileStore) => ({ next: { ...store, usageStats: {} }, outcome: undefined });
  await markings.tracking(adapter).update(
    "/a/main",
    (store) => {
      const result = clear(store);
      queueMicrotask(() => (during = markings.isNewMarking("/a/main", marked, adapter, NOW)));
      return result;
    },
    { lockTimeoutMs: 1 },
  );
  await Promise.resolve();
  assert.equal(during, false, "not answered again");
  assert.equal(markings.isNewMarking("/a/main", read(), adapter, NOW), false, "our clearing is ours");
  mark({ cooldownUntil: NOW + 120_000, cooldownReason: "auth", failureCounts: { auth: 2 }, errorCount: 2 });
  assert.equal(markings.isNewMarking("/a/main", read(), adapter, NOW), true, "the gateway's next marking is new");
});
