/**
 * The SQLite era with a running openclaw@2026.9.6 gateway and real agent turns (interop/gateway-turns.ts): what
 * we write while it runs is what its very next turn uses. A running gateway keeps its auth stores in memory, so
 * this holds only because we tell it to re-read them (stores/sqlite/gateway-notify.ts); `models status`, a fresh
 * process, never showed the difference.
 *   MOLTBOT_AUTH_SYNC_INTEROP_CACHE=… node --test dist/interop/openclaw-2026.9.6-turns.test.js
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { fingerprint } from "../src/core/fingerprint.js";
import { leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../test/helpers/env.js";
import { closedPort } from "../test/helpers/fake-gateway.js";
import { readStateCells, stateDbPath } from "../test/helpers/sqlite-store.js";
import Database from "better-sqlite3";
import { gatewayMarkFailure } from "./gateway-usage.js";
import { gatewayFence } from "./gateway-fences.js";
import { type Gateway, installGateway, runGateway } from "./gateway.js";
import {
  type RunningGateway,
  type StandIn,
  type Turn,
  GATEWAY_TOKEN,
  agentTurn,
  configureGateway,
  digest,
  startGateway,
  startStandIn,
} from "./gateway-turns.js";

let gateway: Gateway;
before(() => {
  gateway = installGateway("2026.9.6");
});

/** The gateway takes 15-25 s to be ready on a loaded 2-core machine, a turn 4-25 s; these are ceilings only. */
const TIMEOUT = { timeout: 900_000 };
const READY_TIMEOUT_MS = 300_000;

const openclaw = (t: TestHome, args: string[], input?: string) =>
  runGateway(gateway, args, t.stateDir, t.home, gateway.entry, input);

/** Which of the tokens a turn's requests carried, as fingerprints: never the tokens themselves. */
function sent(turn: Turn, tokens: Record<string, string>): string[] {
  const names = new Map(Object.entries(tokens).map(([name, token]) => [digest(token), name]));
  return [...new Set(turn.requests.map((r) => names.get(r.digest) ?? "another token"))];
}

interface Scene {
  t: TestHome;
  standIn: StandIn;
  running: RunningGateway;
}

/**
 * A state dir made by the gateway's own commands (`paste-token` for each of `profiles`, first preferred: config
 * `auth.order`), then `prepare`d, the gateway configured for the stand-in and started. The stand-in accepts every
 * pasted token.
 */
async function scene(profiles: Record<string, string>, prepare?: (t: TestHome) => Promise<void>): Promise<Scene> {
  const t = makeHome();
  const standIn = await startStandIn();
  try {
    t.planted.push(GATEWAY_TOKEN, ...Object.values(profiles));
    for (const [profileId, token] of Object.entries(profiles)) {
      const args = ["models", "auth", "paste-token", "--provider", "anthropic", "--profile-id", profileId];
      await openclaw(t, args, `${token}\n`);
      standIn.accept(token);
    }
    await prepare?.(t);
    const order = Object.keys(profiles).length > 1 ? Object.keys(profiles) : undefined;
    configureGateway(t.stateDir, t.root, await closedPort(), standIn, order);
    const running = await startGateway(gateway, t.stateDir, t.home, READY_TIMEOUT_MS);
    process.stderr.write(`interop: gateway ready in ${running.readyMs} ms\n`);
    return { t, standIn, running };
  } catch (err) {
    await standIn.close();
    t.cleanup();
    throw err;
  }
}

async function endScene(s: Scene | undefined): Promise<void> {
  if (!s) return;
  await s.running.stop();
  await s.standIn.close();
  const log = readFileSync(path.join(s.t.root, "gateway.log"), "utf8");
  assert.deepEqual(
    leakedTokens(
      s.running.output() + log,
      s.t.planted.filter((p) => p !== GATEWAY_TOKEN),
    ),
    [],
  );
  s.t.cleanup();
}

/** Merges `stats` into the usage stats of `profileId` in the shared state row, as an outside writer would. */
function plantUsage(t: TestHome, profileId: string, stats: Record<string, unknown>): void {
  const db = new Database(stateDbPath(t));
  try {
    const cell = "SELECT value_json FROM config_machine_state WHERE state_key = 'authProfiles.state'";
    const state = JSON.parse((db.prepare(cell).get() as { value_json: string }).value_json);
    state.usageStats[profileId] = { ...state.usageStats[profileId], ...stats };
    const update = "UPDATE config_machine_state SET value_json = ? WHERE state_key = 'authProfiles.state'";
    db.prepare(update).run(JSON.stringify(state));
  } finally {
    db.close();
  }
}

const turn = async (s: Scene) => {
  const done = await agentTurn(gateway, s.t.stateDir, s.t.home, s.standIn);
  process.stderr.write(`interop: a turn took ${done.ms} ms (${done.requests.length} API requests)\n`);
  return done;
};

test(
  "openclaw@2026.9.6 running: the setup-token we fan out is the token its very next turn sends",
  TIMEOUT,
  async () => {
    let s: Scene | undefined;
    try {
      const pasted = randomToken();
      s = await scene({ "anthropic:manual": pasted });
      const first = await turn(s);
      assert.equal(first.result.status, "ok");
      const ours = randomToken();
      s.t.planted.push(ours);
      s.standIn.accept(ours);
      const tokens = { pasted, ours };
      assert.deepEqual(sent(first, tokens), ["pasted"], "the turn before our sync used the pasted token");

      const replace = ["token", "set", "--profile", "anthropic:manual", "--replace"];
      const set = await runCli(replace, s.t.env, { input: ours });
      assert.equal(set.code, 0, set.stderr);
      const sync = await runCli(["sync"], s.t.env);
      assert.equal(sync.code, 0, sync.stdout + sync.stderr);
      assert.match(sync.stdout, /main +written/);
      assert.doesNotMatch(sync.stderr, /gateway/, "the running gateway was told");

      const next = await turn(s);
      assert.equal(next.result.status, "ok");
      assert.deepEqual(
        sent(next, tokens),
        ["ours"],
        `the very next turn sent ${fingerprint(pasted)} (pasted), not ${fingerprint(ours)} (ours, synced)`,
      );
      assert.deepEqual(leakedTokens(sync.stdout + sync.stderr, s.t.planted), []);
    } finally {
      await endScene(s);
    }
  },
);

test("openclaw@2026.9.6 running: a cooldown we clear lets its very next turn use that profile", TIMEOUT, async () => {
  let s: Scene | undefined;
  try {
    const [manual, second] = [randomToken(), randomToken()];
    const tokens = { manual, second };
    // Past rate limits, as a busy account has: the gateway's backoff doubles with each (30 s × 2^(n-1)), so the
    // cooldown it records next lasts hours, and cannot end by itself while the test runs.
    s = await scene({ "anthropic:manual": manual, "anthropic:second": second }, async (t) => {
      await gatewayMarkFailure(gateway, t.stateDir, t.home, "anthropic:manual", "rate_limit");
      plantUsage(t, "anthropic:manual", { failureCounts: { rate_limit: 9 }, cooldownUntil: Date.now() - 1 });
    });
    const first = await turn(s);
    assert.deepEqual(sent(first, tokens), ["manual"], "anthropic:manual comes first in the order");

    // A usage limit on anthropic:manual: the gateway fails over to anthropic:second and records the cooldown.
    s.standIn.limit(manual);
    const limited = await turn(s);
    assert.equal(limited.result.status, "ok");
    assert.deepEqual(sent(limited, tokens), ["manual", "second"], "tried manual, failed over to second");
    const recorded = (readStateCells(s.t).state?.usageStats as Record<string, any>)["anthropic:manual"];
    assert.equal(recorded?.cooldownReason, "rate_limit", "the gateway recorded the cooldown itself");
    const window = recorded.cooldownUntil - recorded.lastFailureAt;
    const during = await turn(s);
    assert.deepEqual(sent(during, tokens), ["second"], "while it lasts, turns skip anthropic:manual");

    s.standIn.accept(manual);
    const clear = await runCli(["cooldown", "clear", "--profile", "anthropic:manual"], s.t.env);
    assert.equal(clear.code, 0, clear.stdout + clear.stderr);
    assert.match(clear.stdout, /main +cleared/);
    assert.doesNotMatch(clear.stderr, /gateway/, "the running gateway was told");
    assert.equal(
      (readStateCells(s.t).state?.usageStats as Record<string, any>)["anthropic:manual"].cooldownUntil,
      undefined,
    );
    // The cooldown the gateway recorded would still run for a while: only our clear, seen, explains the next turn.
    const stillRunning = recorded.cooldownUntil - Date.now();
    assert.ok(stillRunning > 0, `the cooldown (${window} ms) ended by itself before the next turn`);

    const next = await turn(s);
    assert.equal(next.result.status, "ok");
    assert.deepEqual(sent(next, tokens), ["manual"], "the very next turn went back to anthropic:manual");
  } finally {
    await endScene(s);
  }
});

test(
  "openclaw@2026.9.6 running: after our recovery of a failed fence, the next turn succeeds with the login's token",
  TIMEOUT,
  async () => {
    let s: Scene | undefined;
    try {
      const pasted = randomToken();
      let login: { accessToken: string; refreshToken: string } | undefined;
      // Before the gateway starts: anthropic:manual held the login's refresh token, and the gateway's refresh of it
      // failed (its own createFailedOAuthRefreshFence, saved through its updateAuthProfileStoreWithLock).
      s = await scene({ "anthropic:manual": pasted }, async (t) => {
        login = t.writeCredentials({ expiresAt: Date.now() + 8 * 3_600_000 });
        const held = { type: "oauth", provider: "anthropic", access: randomToken(), refresh: login.refreshToken };
        t.planted.push(held.access);
        await gatewayFence(gateway, t.stateDir, t.home, "anthropic:manual", { ...held, expires: Date.now() }, "failed");
      });
      s.standIn.accept(login!.accessToken);
      // The gateway's CLI exits 1 on a failed turn, which runGateway rejects with.
      const failed = await turn(s).then(
        (done) => done.result.status,
        () => "failed",
      );
      assert.notEqual(failed, "ok", "a profile on a failed fence cannot serve");
      const recover = await runCli(["recover", "--profile", "anthropic:manual"], s.t.env);
      assert.equal(recover.code, 0, recover.stdout + recover.stderr);
      assert.doesNotMatch(recover.stderr, /gateway/, "the running gateway was told");
      const next = await turn(s);
      assert.equal(next.result.status, "ok");
      assert.deepEqual(sent(next, { login: login!.accessToken, pasted }), ["login"]);
    } finally {
      await endScene(s);
    }
  },
);
