/** When claude is asked to refresh, and with which command: the pure rules sync and the daemon share. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import {
  CLI_REFRESH_WINDOW_MS,
  loginHasEnded,
  refreshCommand,
  refreshDue,
  refreshDueAt,
} from "../../src/reconcile/refresh-due.js";

const NOW = 1_800_000_000_000;
const MARGIN = 30 * 60_000;
const login = (more: { expiresAt?: number; loginEndsAt?: number } = {}) => ({
  origin: "test",
  accessToken: "sk-ant-oat01-test",
  expiresAt: NOW + 2 * 3_600_000,
  ...more,
});
const open = { force: false, notBefore: 0 };

test("refreshDue: due from expiresAt - refreshMargin on, or when forced", () => {
  const held = login();
  assert.equal(refreshDueAt(held, MARGIN), held.expiresAt - MARGIN);
  assert.equal(refreshDue(held, MARGIN, refreshDueAt(held, MARGIN) - 1, open), false);
  assert.equal(refreshDue(held, MARGIN, refreshDueAt(held, MARGIN), open), true);
  assert.equal(refreshDue(held, MARGIN, NOW, { ...open, force: true }), true, "a gateway marking forces it");
  assert.equal(refreshDue(login({ expiresAt: NOW - 1 }), MARGIN, NOW, open), true, "an expired token is due");
});

test("refreshDue: never while backing off, nor for a login past its end or one claude said has ended", () => {
  const due = login({ expiresAt: NOW + 60_000 });
  assert.equal(refreshDue(due, MARGIN, NOW, { ...open, notBefore: NOW + 1 }), false);
  assert.equal(refreshDue(due, MARGIN, NOW, { ...open, notBefore: NOW }), true);
  assert.equal(refreshDue({ ...due, loginEndsAt: NOW }, MARGIN, NOW, { ...open, force: true }), false);
  assert.equal(refreshDue(due, MARGIN, NOW, { ...open, endedToken: due.accessToken }), false);
  assert.equal(loginHasEnded({ ...due, loginEndsAt: NOW + 1 }, NOW), false);
  assert.equal(loginHasEnded(due, NOW, "another token"), false, "a new login has another token");
});

test("refreshCommand: the refresh command first; the fallback on a retry, or when forced before claude's window", () => {
  const config = parseConfig({}, "test");
  const inWindow = login({ expiresAt: NOW + CLI_REFRESH_WINDOW_MS - 1 });
  const before = login();
  assert.deepEqual(refreshCommand(config, inWindow, NOW, { force: false, attempt: 0 }), config.refreshCommand);
  assert.deepEqual(refreshCommand(config, inWindow, NOW, { force: true, attempt: 0 }), config.refreshCommand);
  assert.deepEqual(refreshCommand(config, before, NOW, { force: true, attempt: 0 }), config.fallbackRefreshCommand);
  assert.deepEqual(refreshCommand(config, before, NOW, { force: false, attempt: 1 }), config.fallbackRefreshCommand);
  assert.notDeepEqual(config.refreshCommand, config.fallbackRefreshCommand);
});
