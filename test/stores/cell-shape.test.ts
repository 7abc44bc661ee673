/** The SQLite cells' shape check (src/stores/sqlite/cell-shape.ts): each difference named by its key. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cellShapeProblem } from "../../src/stores/sqlite/cell-shape.js";

test("cell shape: a cell that fits, unknown fields and all, has no problem", () => {
  const store = { version: 1, profiles: { "a:b": { type: "token", provider: "x", token: "t", more: [1] } }, x: 1 };
  assert.equal(cellShapeProblem("store", store), undefined);
  const state = { order: { x: ["a:b"] }, lastGood: { x: 5 }, usageStats: { "a:b": { failureCounts: { auth: 2 } } } };
  assert.equal(cellShapeProblem("state", state), undefined);
  assert.equal(cellShapeProblem("state", {}), undefined, "every container of the state cell may be absent");
});

test("cell shape: every difference, by key; a long key shown short; many counted", () => {
  const store = {
    profiles: {
      "a:b": { type: 1, provider: "x", expires: "soon" },
      ["k".repeat(100)]: [],
    },
  };
  assert.equal(
    cellShapeProblem("store", store),
    "profiles.a:b.type: expected string, received number; profiles.a:b.expires: expected number, received string; " +
      `profiles.${"k".repeat(60)}…: expected object, received array`,
  );
  assert.equal(cellShapeProblem("store", {}), "profiles: expected record, received undefined");
  const state = { usageStats: { "a:b": { cooldownUntil: null, failureCounts: { auth: Infinity } } } };
  assert.equal(
    cellShapeProblem("state", state),
    "usageStats.a:b.cooldownUntil: expected number, received null; " +
      "usageStats.a:b.failureCounts.auth: expected number, received Infinity",
  );
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, 1]));
  const found = cellShapeProblem("store", { profiles: many })!;
  assert.match(found, /^profiles\.p0: expected object, received number; .*; and 35 more$/);
  assert.equal(found.split("; ").length, 6);
  assert.equal(
    cellShapeProblem("store", JSON.parse('{"profiles":{"__proto__":{"type":"token"}}}')),
    "profiles.__proto__.provider: expected string, received undefined",
    "a key named __proto__ is checked as any other",
  );
});
