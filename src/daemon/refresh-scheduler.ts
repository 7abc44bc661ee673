/**
 * When to ask `claude` to refresh: at `expiresAt - refreshMargin` (a timer, whatever the crons say), on the
 * refresh-check schedule, after every pass, and at once on a gateway marking; after a failure, an announced
 * retry that always either runs or logs why not (`refresh.skipped`); and before claude's own refresh window
 * opens, one more try when it does. At `expiresAt` a full pass runs, so a token claude could not refresh is
 * marked as it stops working. A login past its end is never run for, nor retried (Refresher.isDue).
 */
import type { Config } from "../config/config.js";
import { formatDuration, formatRelative } from "../core/duration.js";
import { messageOf } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import { scrubbedTail } from "../log/logger.js";
import type { Failure } from "../reconcile/failure.js";
import { CLI_REFRESH_WINDOW_MS, refreshDueAt } from "../reconcile/refresh-due.js";
import type { RefreshResult, Refresher } from "../refresh/refresher.js";
import type { SourceCredential } from "../types.js";
import type { Clock } from "./clock.js";
import type { EventLog } from "./report-log.js";
import type { Timers } from "./timers.js";

/** What the scheduler needs of the refresher: the one-run-at-a-time runner with its backoff. */
export type RefreshRunner = Pick<Refresher, "isDue" | "run" | "retryAt" | "busy" | "hasEnded">;

export interface RefreshSchedulerOptions {
  clock: Clock;
  timers: Pick<Timers, "set">;
  refresher: RefreshRunner;
  config: () => Config;
  /** The Claude login as last read; undefined while there is none. */
  login: () => SourceCredential | undefined;
  log: EventLog;
  /** Runs a full pass: after a refresh, after a failure (to mark), at expiry. */
  fullPass: () => void;
  /** When the next refresh is due, for the state file. */
  onNextRefresh: (at: number) => void;
  /** A refresh failed: the hook and the last error. */
  onFailed: (failure: Failure) => void;
  saveState: () => Promise<void>;
}

export class RefreshScheduler {
  /** The last refresh's failure, until a refresh succeeds or the login changes; undefined while none failed. */
  private lastFailure: Failure | undefined;
  /** A refresh has just failed: the next full pass counts it as a new failure where it marks. */
  private fresh = false;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: RefreshSchedulerOptions) {}

  /** The last refresh's failure, while it stands. */
  get failure(): Failure | undefined {
    return this.lastFailure;
  }

  /** Whether a refresh failed since the last full pass asked; asking ends it. */
  takeFreshFailure(): boolean {
    const fresh = this.fresh;
    this.fresh = false;
    return fresh;
  }

  /** The refresh in flight, if any. */
  get inFlight(): Promise<void> | undefined {
    return this.running;
  }

  /** A new login or token: the last refresh's failure was about the one before. */
  loginChanged(login: SourceCredential): void {
    this.lastFailure = undefined;
    this.arm(login);
    const left = login.expiresAt - this.options.clock.now();
    if (left > 0) this.options.timers.set("expiry", left + 1, () => this.options.fullPass());
  }

  /** Arms the timer for exactly `expiresAt - refreshMargin` (again after a reload changed the margin). */
  arm(login: SourceCredential): void {
    const at = refreshDueAt(login, this.options.config().refreshMargin);
    const now = this.options.clock.now();
    this.options.onNextRefresh(at);
    this.options.log.event("debug", "refresh.scheduled", `refresh due ${formatRelative(at, now)}`, { at });
    this.options.timers.set("refresh", at - now, () => {
      // A wait past setTimeout's limit fires early: arm again for the rest.
      if (this.options.clock.now() >= at) return this.maybe("timer");
      const current = this.options.login();
      if (current) this.arm(current);
    });
  }

  /** Runs claude when due (or `force`d), unless it runs already or backs off. */
  maybe(trigger: string, force = false): void {
    const login = this.options.login();
    const now = this.options.clock.now();
    if (!login || this.stopped || !this.options.refresher.isDue(login, this.options.config(), now, force)) return;
    this.options.log.event(
      "info",
      "refresh.started",
      `asking claude to refresh ${fingerprint(login.accessToken)} (expires ${formatRelative(login.expiresAt, now)})`,
      { trigger },
    );
    this.running = this.options.refresher
      .run(login, this.options.config(), force)
      .then((result) => this.refreshed(result, trigger, login))
      .catch((err: unknown) => this.options.log.event("error", "daemon.error", `refresh: ${messageOf(err)}`))
      .finally(() => (this.running = undefined));
  }

  stop(): void {
    this.stopped = true;
  }

  private async refreshed(result: RefreshResult, trigger: string, before: SourceCredential): Promise<void> {
    if (this.stopped) return;
    const fields = { trigger, durationMs: result.run.durationMs };
    const now = this.options.clock.now();
    if (result.outcome === "refreshed") {
      this.lastFailure = undefined;
      const { accessToken, expiresAt } = result.after;
      const msg = `claude refreshed: ${fingerprint(accessToken)} expires ${formatRelative(expiresAt, now)}`;
      this.options.log.event("info", "refresh.succeeded", msg, { ...fields, expiresAt });
      this.options.fullPass();
      return;
    }
    if (result.outcome === "skipped") {
      return this.options.log.event("info", "refresh.skipped", `refresh not run: ${result.reason}`, fields);
    }
    if (result.outcome === "token-works") {
      this.lastFailure = undefined;
      const next = result.nextTryAt;
      if (next === undefined) {
        const msg = "claude ran fine with its current token; the gateway's marking is left to expire";
        return this.options.log.event("info", "refresh.unneeded", msg, fields);
      }
      const msg =
        `claude had nothing to refresh yet: it refreshes only within ${formatDuration(CLI_REFRESH_WINDOW_MS)} ` +
        `of expiry, and refreshMargin is ${formatDuration(this.options.config().refreshMargin)}; ` +
        `next try ${formatRelative(next, now)}`;
      this.options.log.event("info", "refresh.unneeded", msg, { ...fields, nextTryAt: next });
      this.options.onNextRefresh(next);
      this.options.timers.set("refresh-retry", next - now, () => this.retry());
      return;
    }
    const { failure, run } = result;
    // A login past its end is never retried: only a new login (which loginChanged sees) can be refreshed.
    const ended = failure.loginEnded === true;
    // The login changed while claude ran (a new sign-in, another program's refresh): the failure was the old
    // login's. Marked with it, the new login's profile would hold a marking that no later change clears.
    const current = this.options.login();
    const changed = current !== undefined && current.accessToken !== before.accessToken;
    const next = changed
      ? `the login has changed since (${fingerprint(current.accessToken)}): not marked`
      : ended
        ? "not retried until claude is signed in again"
        : `retry in ${Math.round(result.retryInMs / 1000)} s`;
    this.options.log.event("warn", "refresh.failed", `${failure.message}; ${next}`, {
      ...fields,
      attempt: result.attempt,
      reason: failure.reason,
      exitCode: run.exitCode,
      timedOut: run.timedOut,
      ...(ended ? { loginEnded: true } : { retryInMs: result.retryInMs }),
      ...(changed ? { loginChanged: true } : {}),
      output: scrubbedTail(run.output, 300),
    });
    if (changed) return;
    this.options.onFailed(failure);
    // The pass marks our profile only if the held credential cannot work (pass.ts, unusableFailure).
    this.lastFailure = failure;
    this.fresh = true;
    this.options.fullPass();
    await this.options.saveState();
    if (!ended) this.options.timers.set("refresh-retry", result.retryInMs, () => this.retry());
  }

  /** An announced retry runs claude (forced: the first try may have been a forced one), or logs why it does not. */
  private retry(): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    // A timer can fire a little before the backoff's end by the wall clock: wait for it instead of skipping.
    const backoffEnds = this.options.refresher.retryAt;
    if (now < backoffEnds) return this.options.timers.set("refresh-retry", backoffEnds - now, () => this.retry());
    const login = this.options.login();
    const due = login && refreshDueAt(login, this.options.config().refreshMargin);
    let skip: string | undefined;
    if (!login) skip = "no Claude login to refresh";
    else if (this.options.refresher.hasEnded(login, now))
      skip = "the login has reached its end; claude cannot renew it";
    else if (this.options.refresher.busy) skip = "a refresh is already running";
    else if (!this.lastFailure && now < due!)
      skip = `the login changed since; next refresh due ${formatRelative(due!, now)}`;
    if (skip) return this.options.log.event("info", "refresh.skipped", `retry not run: ${skip}`, { trigger: "retry" });
    this.maybe("retry", true);
  }
}
