/**
 * The refresher of a login in a fleet: the same one-run-at-a-time runner with its backoff (refresher.ts), run only
 * by the host elected for the login, and only with time left on its lease. Around each run:
 *   1. the fleet's newest credentials go into claude's own file first (claude-handover.ts);
 *   2. a refresh another host began with that very token and never finished (its daemon died while claude ran)
 *      stops this one: that host's claude may have spent the token, and refreshing with it could log all out;
 *   3. a record that this host runs claude with that refresh token is written, fenced on leadership;
 *   4. claude runs, only with lease time left to start (START_NEED_MS), and is not stopped when the lease runs
 *      low: stopped mid-request it could spend the token without saving the new one, the very logout this tool
 *      prevents. The record already keeps every other host, elected or not, from refreshing with that token;
 *   5. the result is published (which takes the record back), or the record is taken back when claude ended having
 *      changed nothing. A claude that was stopped (timeout, shutdown) leaves the record: it may have spent the token.
 * A result this host could not publish stays in claude's file, and the record names this host: it is handed back
 * by the next pass that reaches etcd (member.handBack in the daemon), whoever leads by then.
 */
import type { Config } from "../config/config.js";
import { messageOf } from "../core/errors.js";
import { Refresher, type RefreshResult } from "../refresh/refresher.js";
import { claudeConfigDir } from "../sources/claude-cli-file.js";
import { tokenDigest } from "../sources/token-book.js";
import type { SourceCredential } from "../types.js";
import { installClaudeOauth, readClaudeOauth } from "./claude-handover.js";
import type { FleetMember } from "./member.js";

/**
 * Lease time a run must have left to start. The lease is renewed every third of its time, so a leader etcd answers
 * has two thirds of it left at least (leaseTime is 5 s or more); one renewal missed and it starts none.
 */
export const START_NEED_MS = 3_000;

const noRun = (reason: string): RefreshResult => ({
  outcome: "skipped",
  reason,
  run: { command: "", timedOut: false, output: "", durationMs: 0 },
});

export class FleetRefresher extends Refresher {
  constructor(
    readSource: () => Promise<SourceCredential>,
    env: NodeJS.ProcessEnv,
    shutdown: AbortSignal,
    private readonly fleet: () => FleetMember | undefined,
    private readonly loginId: () => string,
    private readonly say: (msg: string, handover: boolean) => void,
    private readonly readLocal: () => Promise<SourceCredential | undefined> = () => readSource().catch(() => undefined),
  ) {
    super(readSource, env, shutdown);
  }

  override isDue(source: SourceCredential, config: Config, now: number, force: boolean): boolean {
    const leads = this.fleet()?.leadership(this.loginId())?.holds(START_NEED_MS) === true;
    return leads && super.isDue(source, config, now, force);
  }

  protected override async attemptRefresh(
    _before: SourceCredential,
    config: Config,
    force: boolean,
  ): Promise<RefreshResult> {
    const member = this.fleet();
    const login = this.loginId();
    if (!member) return noRun("this host has not joined the fleet yet");
    const leadership = member.leadership(login);
    if (!leadership?.holds(START_NEED_MS)) return noRun("another host refreshes this login");
    let record: string | undefined;
    let local: SourceCredential | undefined;
    try {
      const newest = await member.freshCredentials(login);
      if (newest.oauth && newest.expiresAt! > ((await this.readLocal())?.expiresAt ?? 0)) {
        const done = await installClaudeOauth(configDir(config, this.env), newest.oauth);
        if (done === "installed") this.say(`claude now holds the fleet's newest credentials for ${login}`, true);
      }
      local = await this.readLocal();
      if (!local?.refreshToken) return noRun("claude holds no refresh token on this host");
      // Only a refresh begun with the very token this host would use stops it; an older one was superseded.
      const unfinished = await member.unfinishedRefresh(login);
      if (unfinished && unfinished.host !== member.host && unfinished.spends === tokenDigest(local.refreshToken)) {
        const at = new Date(unfinished.at).toISOString();
        return noRun(
          `${unfinished.host} began a refresh at ${at} and never published its result; its claude may have spent ` +
            `the token, so none is run until ${unfinished.host} is back or \`claude auth login\` is run here`,
        );
      }
      const seen = { credentials: newest.revision, refreshing: unfinished?.modRevision ?? "0" };
      record = await member.beginRefresh(login, tokenDigest(local.refreshToken), seen);
      if (record === undefined)
        return noRun("the fleet changed while this host got ready (a hand-back, or a new leader)");
    } catch (err) {
      return noRun(`the fleet could not be read first (${messageOf(err)})`);
    }
    // claude is not stopped when the lease runs low: stopped mid-request it may have spent the token without saving
    // the new one. The record written above keeps every other host from refreshing with that token instead.
    const result = await super.attemptRefresh(local, config, force);
    const stopped = result.run.timedOut || result.run.signal !== undefined;
    try {
      if (result.outcome === "refreshed") {
        const oauth = await readClaudeOauth(configDir(config, this.env));
        const published = await member.publish(login, result.after, oauth);
        if (published === "not-leader")
          this.say(`${login} was refreshed but could not be published: it is handed back once etcd answers`, false);
      } else if (!stopped) await member.endRefresh(login, record);
      else this.say(`${login}: claude was stopped mid-refresh; no host refreshes with its token for now`, false);
    } catch (err) {
      this.say(`${login}: the refresh's result could not reach etcd (${messageOf(err)}); handed back later`, false);
    }
    return result;
  }
}

const configDir = (config: Config, env: NodeJS.ProcessEnv) => claudeConfigDir(config.claudeConfigDir, env);
