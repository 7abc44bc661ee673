/**
 * The daemon's word that the Claude login nears its hard end (reconcile/login-end.ts): `login.expiring` from
 * `loginEndWarning` before it, at most once a day, and `login.ended` once when it comes, each with the `onEvent`
 * hook. What was last said is kept in the state file, so a restarted daemon does not say it again within the day.
 * It runs on its own timer (the pass does not wait for the end): at the end it runs a full pass, which marks our
 * profile as for any dead login and says `login.ended`.
 */
import type { LoginEndTold } from "../runtime/files.js";
import type { Config } from "../config/config.js";
import { DAY } from "../core/duration.js";
import type { LogEvent } from "../log/logger.js";
import { LOGIN_END_FIX, loginEndStage, loginEndText } from "../reconcile/login-end.js";
import type { SourceCredential } from "../types.js";
import type { Clock } from "./clock.js";
import type { AgentRef, HookEvent } from "./event-hook.js";
import type { Fields, Level } from "./problem-log.js";
import { agentsFields } from "./report-log.js";
import type { Timers } from "./timers.js";

/** The longest a due `login.expiring` stays unsaid. */
export const LOGIN_END_ALERT_EVERY_MS = DAY;

/** What the daemon last said of one login's end: which event, about which end, and when. */
export interface LoginEndWatchOptions {
  clock: Clock;
  timers: Pick<Timers, "set">;
  /** This login's view of the config, as now. */
  config: () => Config;
  /** The login as last read; undefined while there is none. */
  login: () => SourceCredential | undefined;
  /** What was last said (from the state file across restarts); `remember` records a new one there. */
  told: () => LoginEndTold | undefined;
  remember: (told: LoginEndTold) => void;
  emit: (level: Level, event: LogEvent, msg: string, fields: Fields) => void;
  hook: (event: HookEvent, reason: string, agents: readonly AgentRef[]) => void;
  /** The agents that hold the login's profile, for the log line and the hook. */
  agents: () => readonly AgentRef[];
  /** Runs a full pass: at the end, it marks our profile and says `login.ended`. */
  fullPass: () => void;
}

export class LoginEndWatch {
  constructor(private readonly options: LoginEndWatchOptions) {}

  /** Says what is due about the login's end now, and arms the timer for the next moment something is. */
  check(): void {
    const now = this.options.clock.now();
    const endsAt = this.options.login()?.loginEndsAt;
    const stage = loginEndStage(endsAt, now, this.options.config().loginEndWarning);
    if (endsAt === undefined || stage === undefined) return this.arm(endsAt, now);
    const event = stage === "ended" ? "login.ended" : "login.expiring";
    const last = this.options.told();
    const repeat = last?.event === event && last.endsAt === endsAt;
    if (!repeat || (event === "login.expiring" && now - last.at >= LOGIN_END_ALERT_EVERY_MS)) {
      this.options.remember({ event, endsAt, at: now });
      const reason = loginEndText(endsAt, now);
      const agents = this.options.agents();
      const fields = { profile: this.options.config().profileId, loginEndsAt: endsAt, ...agentsFields(agents) };
      this.options.emit(event === "login.ended" ? "error" : "warn", event, `${reason}. Fix: ${LOGIN_END_FIX}`, fields);
      this.options.hook(event, reason, agents);
    }
    this.arm(endsAt, now);
  }

  /** The next moment: the window's start, then a day after the last `login.expiring`, and the end itself. */
  private arm(endsAt: number | undefined, now: number): void {
    if (endsAt === undefined || now >= endsAt) return;
    const windowStarts = endsAt - this.options.config().loginEndWarning;
    const last = this.options.told();
    const saidAt = last?.event === "login.expiring" && last.endsAt === endsAt ? last.at : now;
    const next = now < windowStarts ? windowStarts : Math.min(saidAt + LOGIN_END_ALERT_EVERY_MS, endsAt);
    // A wait past setTimeout's limit fires early: check() arms again for the rest.
    this.options.timers.set("login-end", next - now, () => (next === endsAt ? this.options.fullPass() : this.check()));
  }
}
