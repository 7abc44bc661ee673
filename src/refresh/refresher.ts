/**
 * Makes `claude` refresh its own token: one run at a time, backing off after each failure. It never
 * touches a refresh token itself; success means the credentials file now holds a later `expiresAt`.
 */
import type { Config } from "../config/config.js";
import { type Failure, askAuthStatus, refreshFailureOf } from "../reconcile/failure.js";
import { cliWindowOpens, loginHasEnded, refreshCommand, refreshDue } from "../reconcile/refresh-due.js";
import type { SourceCredential } from "../types.js";
import { backoffDelay } from "../core/backoff.js";
import { type ClaudeRun, claudeAuthStatus, claudeEnv, refreshArgv, runClaude } from "./claude-runner.js";

const BACKOFF = { baseMs: 15_000, capMs: 10 * 60_000 };

export type RefreshResult =
  | { outcome: "refreshed"; after: SourceCredential; run: ClaudeRun }
  /**
   * A clean run that left the token as it was before claude's window: the token works. After a gateway
   * marking (forced) nothing follows; otherwise `nextTryAt` is when the window opens.
   */
  | { outcome: "token-works"; run: ClaudeRun; nextTryAt?: number }
  | { outcome: "failed"; failure: Failure; run: ClaudeRun; attempt: number; retryInMs: number }
  /** Not this host's to run now (fleet mode: another host refreshes, or this one's leadership is ending). */
  | { outcome: "skipped"; reason: string; run: ClaudeRun };

export class Refresher {
  private attempt = 0;
  /** When the next try may start after a failure; set by `attemptRefresh`. */
  protected notBefore = 0;
  private running: Promise<RefreshResult> | undefined;
  /** The access token of a login claude said has reached its end: never run for it again (a new login differs). */
  private endedToken: string | undefined;

  constructor(
    private readonly readSource: () => Promise<SourceCredential>,
    protected readonly env: NodeJS.ProcessEnv,
    protected readonly shutdown: AbortSignal,
  ) {}

  /** When the next try may start after a failure (0 when not backing off). */
  get retryAt(): number {
    return this.notBefore;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Due inside the margin (or forced), unless running, backing off, or past the login's end (refresh-due.ts). */
  isDue(source: SourceCredential, config: Config, now: number, force: boolean): boolean {
    if (this.running) return false;
    return refreshDue(source, config.refreshMargin, now, {
      force,
      notBefore: this.notBefore,
      endedToken: this.endedToken,
    });
  }

  /** Whether the login is past its end, by its date or by what claude said of this very token. */
  hasEnded(source: SourceCredential, now: number): boolean {
    return loginHasEnded(source, now, this.endedToken);
  }

  /** The command line the next run would use, for messages (`sync --dry-run` shows it). */
  commandLine(before: SourceCredential, config: Config, force: boolean): string {
    return refreshArgv(config, this.commandFor(before, config, force))
      .flat()
      .join(" ");
  }

  run(before: SourceCredential, config: Config, force: boolean): Promise<RefreshResult> {
    this.running ??= this.attemptRefresh(before, config, force).finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * Refreshes now, as `sync` does: one run, and when it failed in a way another command can help (not a missing
   * `claude`, not a dead login), at once one more with the fallback, which the daemon's retry takes after its
   * backoff. `command` is the line of the run whose result this is.
   */
  async runNow(before: SourceCredential, config: Config): Promise<{ result: RefreshResult; command: string }> {
    const command = this.commandLine(before, config, false);
    const result = await this.run(before, config, false);
    const fallback = this.commandLine(before, config, false);
    const failed = result.outcome === "failed" ? result : undefined;
    if (!failed || failed.run.spawnError !== undefined || failed.failure.needsLogin || fallback === command)
      return { result, command };
    return { result: await this.run(before, config, false), command: fallback };
  }

  private commandFor(before: SourceCredential, config: Config, force: boolean): string[] {
    return refreshCommand(config, before, Date.now(), { force, attempt: this.attempt });
  }

  /** One run of `claude` and what it did; a test double overrides only this, keeping the gate above. */
  protected async attemptRefresh(
    before: SourceCredential,
    config: Config,
    force: boolean,
    signal: AbortSignal = this.shutdown,
  ): Promise<RefreshResult> {
    const [file, args] = refreshArgv(config, this.commandFor(before, config, force));
    const env = claudeEnv(config, this.env);
    const run = await runClaude(file, args, { env, timeoutMs: config.refreshTimeout, signal });
    const after = await this.readSource().catch(() => undefined);
    if (after && after.expiresAt > before.expiresAt) {
      this.attempt = 0;
      this.notBefore = 0;
      return { outcome: "refreshed", after, run };
    }
    // Outside its window `claude` refreshes only after a 401, so a clean run means the token works: not a
    // failure to mark, and (with a refreshMargin wider than the window) no use trying again before it opens.
    const windowOpens = cliWindowOpens(before);
    if (run.exitCode === 0 && after?.accessToken === before.accessToken && Date.now() < windowOpens) {
      if (force) return { outcome: "token-works", run };
      this.notBefore = windowOpens;
      return { outcome: "token-works", run, nextTryAt: windowOpens };
    }
    this.attempt += 1;
    const retryInMs = backoffDelay(this.attempt, BACKOFF);
    this.notBefore = Date.now() + retryInMs;
    const failure = await this.explain(run, file, config, env);
    if (failure.loginEnded) this.endedToken = before.accessToken;
    return { outcome: "failed", failure, run, attempt: this.attempt, retryInMs };
  }

  /** Gathers what happened (the run, and `claude auth status` when it can tell more); reconcile/failure.ts decides. */
  private async explain(run: ClaudeRun, file: string, config: Config, env: NodeJS.ProcessEnv): Promise<Failure> {
    const auth = askAuthStatus(run) ? await claudeAuthStatus(config, env, this.shutdown) : undefined;
    return refreshFailureOf(run, { file, timeoutMs: config.refreshTimeout, loggedIn: auth?.loggedIn });
  }
}
