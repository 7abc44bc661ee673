/**
 * Makes `claude` refresh its own token: one run at a time, backing off after each failure. It never
 * touches a refresh token itself; success means the credentials file now holds a later `expiresAt`.
 */
import type { Config } from "../config/config.js";
import { type Failure, askAuthStatus, refreshFailureOf } from "../reconcile/failure.js";
import type { SourceCredential } from "../types.js";
import { backoffDelay } from "../core/backoff.js";
import { type ClaudeRun, claudeAuthStatus, claudeEnv, refreshArgv, runClaude } from "./claude-runner.js";

const BACKOFF = { baseMs: 15_000, capMs: 10 * 60_000 };
/** `claude` refreshes only this close to `expiresAt` (or after a 401): before it, a run changes nothing. */
export const CLI_REFRESH_WINDOW_MS = 5 * 60_000;

export type RefreshResult =
  | { outcome: "refreshed"; after: SourceCredential; run: ClaudeRun }
  /**
   * A clean run that left the token as it was before claude's window: the token works. After a gateway
   * marking (forced) nothing follows; otherwise `nextTryAt` is when the window opens.
   */
  | { outcome: "token-works"; run: ClaudeRun; nextTryAt?: number }
  | { outcome: "failed"; failure: Failure; run: ClaudeRun; attempt: number; retryInMs: number };

export class Refresher {
  private attempt = 0;
  /** When the next try may start after a failure; set by `attemptRefresh`. */
  protected notBefore = 0;
  private running: Promise<RefreshResult> | undefined;
  /** The access token of a login claude said has reached its end: never run for it again (a new login differs). */
  private endedToken: string | undefined;

  constructor(
    private readonly readSource: () => Promise<SourceCredential>,
    private readonly env: NodeJS.ProcessEnv,
    private readonly shutdown: AbortSignal,
  ) {}

  /** When the next try may start after a failure (0 when not backing off). */
  get retryAt(): number {
    return this.notBefore;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * Due when inside the margin (or forced), not running, and not backing off. Never for a login past its end:
   * claude cannot renew it, and each run would only say so again.
   */
  isDue(source: SourceCredential, config: Config, now: number, force: boolean): boolean {
    if (this.running || now < this.notBefore) return false;
    if (this.hasEnded(source, now)) return false;
    return force || now >= source.expiresAt - config.refreshMargin;
  }

  /** Whether the login is past its end, by its date or by what claude said of this very token. */
  hasEnded(source: SourceCredential, now: number): boolean {
    const pastEnd = source.loginEndsAt !== undefined && now >= source.loginEndsAt;
    return pastEnd || source.accessToken === this.endedToken;
  }

  run(before: SourceCredential, config: Config, force: boolean): Promise<RefreshResult> {
    this.running ??= this.attemptRefresh(before, config, force).finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * `refreshCommand` (`claude mcp serve`) spends no model request but refreshes only inside claude's window. Before
   * it, after a gateway marking, only a model request that gets a 401 makes claude refresh; and after a run that
   * failed, the fallback also covers a CLI whose `mcp serve` does not refresh.
   */
  command(before: SourceCredential, config: Config, force: boolean, now = Date.now()): string[] {
    const beforeWindow = now < before.expiresAt - CLI_REFRESH_WINDOW_MS;
    return (force && beforeWindow) || this.attempt > 0 ? config.fallbackRefreshCommand : config.refreshCommand;
  }

  /** One run of `claude` and what it did; a test double overrides only this, keeping the gate above. */
  protected async attemptRefresh(before: SourceCredential, config: Config, force: boolean): Promise<RefreshResult> {
    const [file, args] = refreshArgv(config, this.command(before, config, force));
    const env = claudeEnv(config, this.env);
    const run = await runClaude(file, args, { env, timeoutMs: config.refreshTimeout, signal: this.shutdown });
    const after = await this.readSource().catch(() => undefined);
    if (after && after.expiresAt > before.expiresAt) {
      this.attempt = 0;
      this.notBefore = 0;
      return { outcome: "refreshed", after, run };
    }
    // Outside its window `claude` refreshes only after a 401, so a clean run means the token works: not a
    // failure to mark, and (with a refreshMargin wider than the window) no use trying again before it opens.
    const windowOpens = before.expiresAt - CLI_REFRESH_WINDOW_MS;
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
