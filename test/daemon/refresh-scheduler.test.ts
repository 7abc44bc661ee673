/** The refresh scheduler's rules under a fake clock: no real waiting, no claude; a fake refresher answers. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig, type Config } from "../../src/config/config.js";
import { type RefreshResult, Refresher } from "../../src/refresh/refresher.js";
import { RefreshScheduler } from "../../src/daemon/refresh-scheduler.js";
import { Timers } from "../../src/daemon/timers.js";
import type { SourceCredential } from "../../src/types.js";
import { FakeClock } from "../helpers/daemon.js";
import { randomToken } from "../helpers/env.js";

const MIN = 60_000;
const RUN = { command: "claude", timedOut: false, output: "", durationMs: 5, exitCode: 1 };
const FAILED: RefreshResult = {
  outcome: "failed",
  failure: { reason: "auth", needsLogin: false, message: "claude exited 1" },
  run: RUN,
  attempt: 1,
  retryInMs: 15_000,
};

const loginAt = (expiresAt: number): SourceCredential => ({ origin: "test", accessToken: randomToken(), expiresAt });

/** The real refresher's gate (one run at a time, a backoff after a failure), with runs answered from `results`. */
class FakeRefresher extends Refresher {
  readonly runs: Array<{ at: number; force: boolean }> = [];

  constructor(
    private readonly clock: FakeClock,
    readonly results: RefreshResult[],
  ) {
    super(() => Promise.reject(new Error("a fake refresher reads no login")), {}, new AbortController().signal);
  }

  /** Moves the backoff's end later, as a slower clock would. */
  postpone(ms: number): void {
    this.notBefore += ms;
  }

  protected override attemptRefresh(_before: SourceCredential, _config: Config, force: boolean) {
    this.runs.push({ at: this.clock.now(), force });
    const result = this.results.shift() ?? FAILED;
    if (result.outcome === "failed") this.notBefore = this.clock.now() + result.retryInMs;
    return Promise.resolve(result);
  }
}

function setup(results: RefreshResult[], options: { config?: Record<string, unknown>; expiresInMs?: number } = {}) {
  const clock = new FakeClock();
  const refresher = new FakeRefresher(clock, results);
  const config = parseConfig(options.config ?? {}, "test");
  const events: Array<{ event: string; msg: string; fields: Record<string, unknown> }> = [];
  const world = {
    clock,
    refresher,
    events,
    login: loginAt(clock.now() + (options.expiresInMs ?? 60 * MIN)) as SourceCredential | undefined,
    fullPasses: 0,
    failures: 0,
    nextRefresh: undefined as number | undefined,
  };
  const scheduler = new RefreshScheduler({
    clock,
    timers: new Timers(clock),
    refresher,
    config: () => config,
    login: () => world.login,
    log: { event: (_level, event, msg, fields = {}) => void events.push({ event, msg, fields }) },
    fullPass: () => void world.fullPasses++,
    onNextRefresh: (at) => (world.nextRefresh = at),
    onFailed: () => void world.failures++,
    saveState: async () => {},
  });
  const named = (event: string) => events.filter((e) => e.event === event);
  return { ...world, world, scheduler, config, named };
}

test("refresh scheduler: claude runs at exactly expiresAt - refreshMargin; a full pass follows at expiry", async () => {
  const refreshed: RefreshResult = {
    outcome: "refreshed",
    after: loginAt(Date.UTC(2027, 0, 1)),
    run: { ...RUN, exitCode: 0 },
  };
  const s = setup([refreshed]);
  const login = s.world.login!;
  s.scheduler.loginChanged(login);
  const due = login.expiresAt - s.config.refreshMargin;
  assert.equal(s.world.nextRefresh, due);
  await s.clock.advance(due - s.clock.now() - 1);
  assert.equal(s.refresher.runs.length, 0, "not a millisecond early");
  await s.clock.advance(1);
  assert.deepEqual(s.refresher.runs, [{ at: due, force: false }]);
  assert.equal(s.named("refresh.started")[0]!.fields.trigger, "timer");
  assert.equal(s.named("refresh.succeeded").length, 1);
  assert.equal(s.world.fullPasses, 1, "the refreshed token is synced");
  await s.clock.advance(login.expiresAt - s.clock.now());
  assert.equal(s.world.fullPasses, 1);
  await s.clock.advance(1);
  assert.equal(s.world.fullPasses, 2, "at expiry a pass runs, to mark a token nobody refreshed");
});

test("refresh scheduler: a failure is marked at once; the announced retry forces claude after backoff", async () => {
  const s = setup([FAILED, FAILED], { expiresInMs: 3 * MIN });
  s.scheduler.maybe("expiry");
  await s.clock.advance(0);
  assert.equal(s.named("refresh.failed").length, 1);
  assert.match(s.named("refresh.failed")[0]!.msg, /claude exited 1; retry in 15 s/);
  assert.equal(s.scheduler.failure?.reason, "auth");
  assert.equal(s.world.fullPasses, 1, "a full pass marks the profile");
  assert.equal(s.world.failures, 1);
  assert.equal(s.scheduler.takeFreshFailure(), true, "the next full pass counts the failure as new");
  assert.equal(s.scheduler.takeFreshFailure(), false, "once");
  // The schedules and passes in between do not run claude while it backs off.
  s.scheduler.maybe("schedule");
  await s.clock.advance(14_999);
  s.scheduler.maybe("schedule");
  assert.equal(s.refresher.runs.length, 1);
  await s.clock.advance(1);
  assert.equal(s.refresher.runs.length, 2);
  assert.deepEqual(s.refresher.runs[1], { at: s.clock.now(), force: true });
  assert.equal(s.named("refresh.started")[1]!.fields.trigger, "retry");
});

test("refresh scheduler: a retry that cannot run logs why (refresh.skipped) instead of staying silent", async () => {
  const s = setup([FAILED], { expiresInMs: 3 * MIN });
  s.scheduler.maybe("expiry");
  await s.clock.advance(0);
  // A new login, far from its margin, came in meanwhile: the failure was about the one before.
  const fresh = loginAt(s.clock.now() + 8 * 60 * MIN);
  s.world.login = fresh;
  s.scheduler.loginChanged(fresh);
  assert.equal(s.scheduler.failure, undefined);
  await s.clock.advance(15_000);
  assert.equal(s.refresher.runs.length, 1);
  const skipped = s.named("refresh.skipped");
  assert.equal(skipped.length, 1);
  assert.match(skipped[0]!.msg, /^retry not run: the login changed since; next refresh due in /);

  const gone = setup([FAILED], { expiresInMs: 3 * MIN });
  gone.scheduler.maybe("expiry");
  await gone.clock.advance(0);
  gone.world.login = undefined;
  await gone.clock.advance(15_000);
  assert.match(gone.named("refresh.skipped")[0]!.msg, /no Claude login to refresh/);
});

test("refresh scheduler: a retry timer that fires before the backoff's end waits for it, then runs", async () => {
  const s = setup([FAILED], { expiresInMs: 3 * MIN });
  s.scheduler.maybe("expiry");
  await s.clock.advance(0);
  s.refresher.postpone(500);
  await s.clock.advance(15_000);
  assert.equal(s.refresher.runs.length, 1);
  assert.equal(s.named("refresh.skipped").length, 0);
  await s.clock.advance(500);
  assert.equal(s.refresher.runs.length, 2);
});

test("refresh scheduler: with a margin wider than claude's window, the next try is when the window opens", async () => {
  const s = setup([], { config: { refreshMargin: "30m" }, expiresInMs: 20 * MIN });
  const login = s.world.login!;
  const opens = login.expiresAt - 5 * MIN;
  s.refresher.results.push({ outcome: "token-works", run: { ...RUN, exitCode: 0 }, nextTryAt: opens });
  s.scheduler.loginChanged(login);
  await s.clock.advance(0);
  assert.equal(s.refresher.runs.length, 1, "inside the margin: claude runs at once");
  assert.match(s.named("refresh.unneeded")[0]!.msg, /refreshes only within 5m of expiry, and refreshMargin is 30m/);
  assert.equal(s.world.nextRefresh, opens);
  assert.equal(s.named("refresh.failed").length, 0, "nothing to mark");
  await s.clock.advance(opens - s.clock.now() - 1);
  assert.equal(s.refresher.runs.length, 1);
  await s.clock.advance(1);
  assert.equal(s.refresher.runs.length, 2);
});

test("refresh scheduler: a wait past setTimeout's limit is armed again, never run early", async () => {
  const s = setup([], { expiresInMs: 60 * 24 * 60 * MIN });
  const login = s.world.login!;
  s.scheduler.loginChanged(login);
  await s.clock.advance(2 ** 31 - 1);
  assert.equal(s.refresher.runs.length, 0);
  await s.clock.advance(login.expiresAt - s.config.refreshMargin - s.clock.now());
  assert.equal(s.refresher.runs.length, 1);
});

test("refresh scheduler: after stop, no timer or trigger runs claude", async () => {
  const s = setup([], { expiresInMs: 3 * MIN });
  s.scheduler.stop();
  s.scheduler.maybe("expiry");
  s.scheduler.maybe("gateway-marking", true);
  await s.clock.advance(10 * MIN);
  assert.equal(s.refresher.runs.length, 0);
});

test("refresh scheduler: a login past its end is never run for: not at its margin, not forced, not by a retry", async () => {
  const s = setup([], { expiresInMs: 10 * MIN });
  const login = { ...s.world.login!, loginEndsAt: s.clock.now() + 2 * MIN };
  s.world.login = login;
  s.scheduler.loginChanged(login);
  await s.clock.advance(2 * MIN);
  s.scheduler.maybe("schedule");
  s.scheduler.maybe("gateway-marking", true);
  await s.clock.advance(10 * MIN);
  s.scheduler.maybe("expiry");
  await s.clock.advance(60 * MIN);
  assert.deepEqual(s.refresher.runs, []);
  assert.equal(s.named("refresh.started").length, 0);
  assert.equal(s.world.fullPasses, 1, "the pass at the token's expiry still runs (it marks)");
});

test("refresh scheduler: claude's time-limit answer arms no retry, and says so in refresh.failed", async () => {
  const ended: RefreshResult = {
    ...FAILED,
    failure: {
      reason: "auth",
      needsLogin: true,
      loginEnded: true,
      message: "claude says the login reached its time limit",
    },
  };
  const s = setup([ended], { expiresInMs: 3 * MIN });
  s.scheduler.maybe("expiry");
  await s.clock.advance(0);
  const failed = s.named("refresh.failed");
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.msg, /time limit; not retried until claude is signed in again$/);
  assert.equal(failed[0]!.fields.loginEnded, true);
  assert.equal(failed[0]!.fields.retryInMs, undefined);
  assert.equal(s.world.fullPasses, 1, "a full pass marks the profile");
  assert.deepEqual(
    s.clock.pending().filter((at) => at < s.world.login!.expiresAt),
    [],
    "no retry is armed",
  );
  await s.clock.advance(60 * MIN);
  assert.equal(s.refresher.runs.length, 1);
  assert.equal(s.named("refresh.skipped").length, 0);
});

test("refresh scheduler: a failure that comes back after the login changed was the old login's: nothing marked", async () => {
  const dead = { reason: "auth" as const, needsLogin: true, message: "OAuth token refresh failed" };
  const s = setup([{ ...FAILED, failure: dead }], { expiresInMs: 3 * MIN });
  s.scheduler.maybe("expiry");
  // Signed in again while claude ran: its failure arrives after the new login.
  s.world.login = loginAt(s.clock.now() + 8 * 60 * MIN);
  await s.clock.advance(0);
  const failed = s.named("refresh.failed");
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.fields.loginChanged, true);
  assert.match(failed[0]!.msg, /the login has changed since \(sk-ant-oat01-…\S{4}\): not marked$/);
  assert.equal(s.scheduler.failure, undefined, "no failure for a pass to mark the new login with");
  assert.equal(s.world.fullPasses, 0);
  assert.equal(s.world.failures, 0);
  await s.clock.advance(60_000);
  assert.equal(s.refresher.runs.length, 1, "nothing retried");
});
