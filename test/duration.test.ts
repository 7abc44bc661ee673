/** Durations as people type and read them: `ms` and `pretty-ms` behind the two wrappers, with their outputs. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, formatRelative, parseDuration } from "../src/core/duration.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

test("parseDuration: the documented units, milliseconds as a number, nothing else", () => {
  assert.equal(parseDuration("30m"), 30 * MIN);
  assert.equal(parseDuration("120s"), 120_000);
  assert.equal(parseDuration("1h"), HOUR);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1d"), DAY);
  assert.equal(parseDuration(" 1.5h "), 1.5 * HOUR);
  assert.equal(parseDuration(5000), 5000);
  assert.equal(parseDuration("0.0004s"), 0, "rounded to whole milliseconds");
  for (const bad of ["soon", "5x", "-5m", "", "2026", "2026-11-25", "10"]) {
    assert.equal(parseDuration(bad), undefined, `${JSON.stringify(bad)} is not a duration`);
  }
  assert.equal(parseDuration(-1), undefined);
  assert.equal(parseDuration(Number.NaN), undefined);
});

test("formatDuration: the two largest units, no spaces, seconds dropped from 10 minutes on", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(499), "0s");
  assert.equal(formatDuration(42_000), "42s");
  assert.equal(formatDuration(5 * MIN + 3_000), "5m3s");
  assert.equal(formatDuration(5 * MIN), "5m");
  assert.equal(formatDuration(12 * MIN + 30_000), "12m");
  assert.equal(formatDuration(3 * HOUR + 12 * MIN + 59_000), "3h12m");
  assert.equal(formatDuration(3 * HOUR + 30_000), "3h");
  assert.equal(formatDuration(DAY + 2 * HOUR + 5 * MIN), "1d2h");
  assert.equal(formatDuration(DAY + 5 * MIN), "1d");
  assert.equal(formatDuration(400 * DAY), "400d", "no years");
  assert.equal(formatDuration(-5), "0s");
  assert.equal(formatRelative(1_000 + 5 * MIN, 1_000), "in 5m");
  assert.equal(formatRelative(1_000, 1_000 + 90_000), "1m30s ago");
});
