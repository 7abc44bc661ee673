/**
 * One Claude login as the daemon keeps it: its view of the config (its own config dir and profile), its source,
 * its refresh scheduler with its own refresher (so its own refreshes never overlap, while another login's may),
 * and its own outage, with log lines that name it. Several logins never share a marking or a backoff.
 */
import type { Config } from "../config/config.js";
import { loginFields } from "../config/logins.js";
import { messageOf } from "../core/errors.js";
import { readClaudeOauth } from "../fleet/claude-handover.js";
import { FleetRefresher } from "../fleet/fleet-refresher.js";
import type { FleetMember } from "../fleet/member.js";
import { Refresher } from "../refresh/refresher.js";
import { claudeConfigDir } from "../sources/claude-cli-file.js";
import { type LoginReading, readClaudeLogin } from "../sources/index.js";
import type { SourceCredential } from "../types.js";
import type { Clock } from "./clock.js";
import type { AgentRef, HookEvent } from "./event-hook.js";
import { LoginSource } from "./login-source.js";
import type { LoginEndTold } from "../runtime/files.js";
import { LoginEndWatch } from "./login-end.js";
import { OutageTracker } from "./outage.js";
import type { ProblemLog } from "./problem-log.js";
import { RefreshScheduler } from "./refresh-scheduler.js";
import type { Failure } from "../reconcile/failure.js";
import type { Timers } from "./timers.js";

export interface DaemonLoginOptions {
  /** This login's view of the config, as now. */
  config: () => Config;
  /** Which login this is in the daemon's config: "" without `logins` (the one login, whose lines name none). */
  scope: string;
  /** The fields that name this login on a log line (none for the single login). */
  fields: () => Record<string, string>;
  clock: Clock;
  timers: Timers;
  problems: ProblemLog;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  fullPass: () => void;
  onSourceChange: (login: SourceCredential) => void;
  onNextRefresh: (at: number) => void;
  onFailed: (failure: Failure, problems: ProblemLog) => void;
  hook: (event: HookEvent, reason: string, agents: readonly AgentRef[]) => void;
  saveState: () => Promise<void>;
  /** What was last said of this login's end, and where a new one is recorded (the state file). */
  loginEndTold: () => LoginEndTold | undefined;
  rememberLoginEnd: (told: LoginEndTold) => void;
  /** The agents the hook names. */
  agents: () => readonly AgentRef[];
  /** In fleet mode (docs/fleet.md): this host's membership, once it has joined. */
  fleet?: () => FleetMember | undefined;
}

export class DaemonLogin {
  readonly problems: ProblemLog;
  readonly source: LoginSource;
  readonly refresh: RefreshScheduler;
  readonly outage: OutageTracker;
  readonly end: LoginEndWatch;

  constructor(private readonly options: DaemonLoginOptions) {
    const { clock, env, config } = options;
    const problems = (this.problems = options.problems.scoped(options.scope, options.fields()));
    this.source = new LoginSource({
      clock,
      problems,
      config,
      env,
      onChange: (login) => {
        options.onSourceChange(login);
        this.refresh.loginChanged(login);
      },
      ...(options.fleet ? { fleet: this.fleetSource(options.fleet) } : {}),
    });
    const readLocal = () => readClaudeLogin(config(), env);
    const say = (msg: string, handover: boolean) =>
      problems.event(handover ? "info" : "warn", handover ? "fleet.handover" : "fleet.waiting", msg);
    this.refresh = new RefreshScheduler({
      clock,
      timers: options.timers.scoped(options.scope),
      refresher: options.fleet
        ? new FleetRefresher(readLocal, env, options.signal, options.fleet, () => this.profileId, say)
        : new Refresher(readLocal, env, options.signal),
      config,
      login: () => this.source.current,
      log: problems,
      fullPass: options.fullPass,
      onNextRefresh: options.onNextRefresh,
      onFailed: (failure) => options.onFailed(failure, problems),
      saveState: options.saveState,
    });
    this.end = new LoginEndWatch({
      clock,
      timers: options.timers.scoped(options.scope),
      config,
      login: () => this.source.current,
      told: options.loginEndTold,
      remember: options.rememberLoginEnd,
      emit: (level, event, msg, fields) => problems.event(level, event, msg, fields),
      hook: options.hook,
      agents: options.agents,
      fullPass: options.fullPass,
    });
    this.outage = new OutageTracker({
      clock,
      problems,
      profileId: () => config().profileId,
      hook: options.hook,
    });
  }

  /**
   * The fleet's side of this login's source: this host stands by for it while its claude holds it, publishes or
   * hands back what that claude holds (member.offerLocal), and reads what the fleet published.
   */
  private fleetSource(fleet: () => FleetMember | undefined) {
    const dir = () => claudeConfigDir(this.config().claudeConfigDir, this.options.env);
    return {
      local: ({ login, error }: LoginReading) => {
        const member = fleet();
        if (!member) return;
        // Only a login that is gone ends the campaign: a file caught mid-write must not hand leadership away.
        member.standBy(this.profileId, login !== undefined || error?.problem !== "not_logged_in");
        if (!login) return;
        const busy = this.refresh.inFlight !== undefined;
        // A claude of ours ends by refreshTimeout (then SIGKILL 5 s later); a minute more for one a crash orphaned.
        const settle = this.config().refreshTimeout + 65_000;
        member
          .offerLocal(this.profileId, login, () => readClaudeOauth(dir()), busy, settle)
          .then(
            () => this.problems.forget("fleet-offer"),
            (err: unknown) => {
              const msg = `what claude holds here is not published yet (etcd did not answer); tried again on each read`;
              this.problems.problem("fleet-offer", "warn", "fleet.unreachable", msg, { error: messageOf(err) });
            },
          );
      },
      published: () => fleet()?.login(this.profileId),
      // Only before etcd ever answered: in a later outage the last view serves until the token expires.
      awaiting: () => fleet()?.snapshot().lastContactAt === undefined,
    };
  }

  /** This login's view of the config, as it is now. */
  config(): Config {
    return this.options.config();
  }

  get profileId(): string {
    return this.config().profileId;
  }
}

/** The scope of a login in `config`: its profile id when `logins` is configured, "" for the single login. */
export function loginScope(config: Config, login: Config): string {
  return config.logins ? login.profileId : "";
}

export { loginFields };
