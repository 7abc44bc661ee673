/**
 * The daemon on a SQLite-era state dir: it keeps the native login alive, marks the opt-in token profile when
 * the login is dead, and clears that marking on recovery, in the shared store's state row.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken } from "../helpers/env.js";
import { startFakeGateway } from "../helpers/fake-gateway.js";
import { allCellText, entriesConfig, readStateCells, stateDbPath, writeStateDb } from "../helpers/sqlite-store.js";

const MINE = "anthropic:login";

test("daemon, SQLite era: a dead login disables the opt-in token profile; recovery clears it", async () => {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  const cred = t.writeCredentials({ expiresAt: Date.now() + 60_000 });
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
  const otherUntil = Date.now() + 45 * 60_000;
  const other = { cooldownUntil: otherUntil, cooldownReason: "rate_limit" };
  writeStateDb(t, {
    store: {
      version: 1,
      profiles: {
        [MINE]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt },
        "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() },
      },
    },
    state: { version: 1, usageStats: { "anthropic:manual": other } },
  });
  // The fake fails at once; the timeout only bounds a stuck one, and a loaded machine starts Node slowly.
  const config = { profileId: MINE, credentialType: "token", refreshTimeout: "30s" };
  writeFileSync(path.join(t.root, "config.json"), JSON.stringify(config));
  const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
  try {
    await d.waitForEvent("needs_login", 30_000);
    const dead = (readStateCells(t).state?.usageStats as Record<string, Record<string, unknown>>)[MINE]!;
    assert.equal(dead.disabledReason, "auth_permanent");
    assert.ok((dead.disabledUntil as number) > Date.now());
    t.writeCredentials();
    await d.waitForEvent("recovered", 30_000);
    const stats = readStateCells(t).state?.usageStats as Record<string, Record<string, unknown>>;
    assert.equal(stats[MINE]!.disabledUntil, undefined);
    assert.deepEqual(stats["anthropic:manual"], other);
  } finally {
    await d.stop();
  }
  const text = allCellText([stateDbPath(t)]);
  assert.doesNotMatch(text, /sk-ant-ort01|\\"refresh\\"|anthropic:claude-cli/);
  assert.deepEqual(leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]), []);
  t.cleanup();
});

/** The state row as the gateway writes it, from a connection it keeps open (its writes stay in the -wal file). */
function markInStateDb(db: Database.Database, marking: Record<string, unknown>): void {
  const sql = "SELECT value_json AS json FROM config_machine_state WHERE state_key = 'authProfiles.state'";
  const row = db.prepare(sql).get() as { json: string };
  const state = JSON.parse(row.json) as { usageStats?: Record<string, unknown> };
  state.usageStats = { ...state.usageStats, [MINE]: marking };
  db.prepare("UPDATE config_machine_state SET value_json = ?, updated_at_ms = ? WHERE state_key = ?").run(
    JSON.stringify(state),
    Date.now(),
    "authProfiles.state",
  );
}

for (const writer of ["holds the database open", "closes the database after writing"] as const) {
  test(`daemon, SQLite era: a gateway marking is answered within seconds (the writer ${writer})`, async () => {
    const t = makeHome();
    installFakeClaude(t, "refresh");
    const cred = t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
    const profile = { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt };
    writeStateDb(t, { store: { version: 1, profiles: { [MINE]: profile } }, state: { version: 1, usageStats: {} } });
    // Schedules that never fire during the test: the default resync (every 5 minutes, on the clock) once fell
    // inside the quiet window below and was taken for a pass our own reads made.
    const never = "0 0 1 1 *";
    const config = { profileId: MINE, credentialType: "token", logLevel: "debug", resyncCron: never };
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ ...config, refreshCheckCron: never }));
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    const holds = writer === "holds the database open";
    let db = holds ? new Database(stateDbPath(t)) : undefined;
    try {
      const ready = d.records.indexOf(await d.waitForEvent("daemon.ready", 30_000));
      // Our own reads of a database nobody holds make and remove an empty -wal file: that must not make
      // passes. The full pass that follows the arming reads it with every watch armed; once that pass is done
      // and its -wal event decided on (ignored), nothing but that pass has run.
      await d.waitFor((r) => r.event === "sync.idle", 20_000, ready);
      await d.waitFor((r) => r.event === "watch.ignored", 20_000, ready);
      const since = d.records.slice(ready + 1).map((r) => r.event);
      assert.deepEqual(
        since.filter((e) => e === "watch.handled" || e === "cooldown.gateway"),
        [],
        d.stdout,
      );
      assert.equal(d.events("sync.done").length, 2, "the first pass and the one after arming");
      const now = Date.now();
      db ??= new Database(stateDbPath(t));
      markInStateDb(db, { errorCount: 1, failureCounts: { auth: 1 }, lastFailureAt: now, cooldownUntil: now + 60_000 });
      if (!holds) {
        db.close();
        db = undefined;
      }
      // No schedule fires during the test: only the watch can answer (in well under 1 s when idle;
      // 20 s is headroom for a loaded 2-core machine).
      const seen = await d.waitForEvent("cooldown.gateway", 20_000);
      assert.equal(seen.agent, "main");
      const started = await d.waitForEvent("refresh.started", 20_000);
      assert.equal(started.trigger, "gateway-marking");
      const recovered = await d.waitForEvent("recovered", 20_000);
      const stats = (readStateCells(t).state?.usageStats as Record<string, Record<string, unknown>>)[MINE]!;
      assert.equal(stats.cooldownUntil, undefined);
      // Our clearing write is not taken for another marking: the daemon has seen it and decided. The write
      // follows the new token's arrival (its watch event may be decided on before the write is logged, and
      // claude's exit may be logged after both).
      const arrived = d.records.findIndex((r, i) => i > d.records.indexOf(started) && r.event === "source.changed");
      assert.ok(arrived >= 0 && arrived < d.records.indexOf(recovered));
      await d.waitFor((r) => r.event === "watch.handled" && r.agent === "main", 20_000, arrived);
      assert.equal(d.events("cooldown.gateway").length, 1, d.stdout);
      assert.equal(d.events("refresh.started").length, 1, d.stdout);
    } finally {
      db?.close();
      await d.stop();
    }
    t.cleanup();
  });
}

test("daemon, SQLite era: a running gateway that cannot be told is logged once, and again once it is told", async () => {
  const t = makeHome();
  installFakeClaude(t, "refresh");
  const cred = t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
  const secret = "gw-daemon-test-9d8c7b6a5f4e3d2c1b0a";
  const answering: { token?: string } = { token: "the-gateway-was-started-with-another" };
  const gateway = await startFakeGateway(answering);
  const gatewayConfig = { mode: "local", port: gateway.port, auth: { token: secret } };
  writeFileSync(
    path.join(t.stateDir, "openclaw.json"),
    JSON.stringify({ ...entriesConfig(t, ["main"]), gateway: gatewayConfig }),
  );
  const stale = { type: "token", provider: "anthropic", token: randomToken(), expires: Date.now() + 3_600_000 };
  writeStateDb(t, { store: { version: 1, profiles: { [MINE]: stale } }, state: { version: 1, usageStats: {} } });
  const never = "0 0 1 1 *";
  const config = { profileId: MINE, credentialType: "token", resyncCron: never, refreshCheckCron: never };
  writeFileSync(path.join(t.root, "config.json"), JSON.stringify(config));
  const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
  try {
    const refused = await d.waitForEvent("gateway.not_reloaded", 30_000);
    assert.equal(refused.level, "warn");
    assert.deepEqual(refused.agents, ["main"]);
    assert.match(
      String(refused.msg),
      /has not picked up what was written for main \(.*token mismatch.*\); run `openclaw gateway restart`/,
    );
    assert.equal(
      (readStateCells(t).store?.profiles as Record<string, { token: string }>)[MINE]!.token,
      cred.accessToken,
    );
    // The gateway takes our secret now (restarted with the configured token); the next write is told.
    answering.token = secret;
    const from = d.records.length;
    t.writeCredentials();
    await d.waitForEvent("gateway.reloaded", 30_000, from);
    assert.deepEqual(gateway.requests.at(-1), {
      method: "models.authRefresh",
      params: { operation: "login", agentId: "main" },
    });
    assert.equal(d.events("gateway.not_reloaded").length, 1, "logged once");
  } finally {
    await d.stop();
    await gateway.close();
  }
  assert.deepEqual(leakedTokens(d.stdout + d.stderr, [...t.planted, secret]), []);
  t.cleanup();
});
