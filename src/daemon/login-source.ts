/** The Claude login as the daemon last read it (a change is logged and handed on), with why it gave nothing. */
import type { Config } from "../config/config.js";
import { formatRelative } from "../core/duration.js";
import { messageOf } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import { type Failure, loginFailureOf } from "../reconcile/failure.js";
import type { LoginRead } from "../pass/run.js";
import { type LoginReading, readLogin } from "../sources/index.js";
import { withPublishedLogin } from "../fleet/published.js";
import type { SourceCredential } from "../types.js";
import type { Clock } from "./clock.js";
import type { ProblemLog } from "./problem-log.js";

export class LoginSource {
  /** The login as last read; undefined while it gives nothing. */
  current: SourceCredential | undefined;
  /** Why the source gave nothing on the last read, as a failure to mark; undefined while it is fine. */
  failure: Failure | undefined;

  constructor(
    private readonly options: {
      clock: Clock;
      problems: ProblemLog;
      config: () => Config;
      env: NodeJS.ProcessEnv;
      /** A new login or token was read. */
      onChange: (login: SourceCredential) => void;
      /** In a fleet: told what this host's own claude holds, and asked what the fleet published (fresher wins). */
      fleet?: {
        local: (reading: LoginReading) => void;
        published: () => SourceCredential | undefined;
        /** etcd has not answered since the start: there is nothing to judge the login by yet. */
        awaiting: () => boolean;
      };
    },
  ) {}

  /** Reads the login now; `changed` says whether its token or expiry differs from the read before. */
  async read(): Promise<LoginRead & { changed: boolean }> {
    const { problems } = this.options;
    const config = this.options.config();
    const local = await readLogin(config, this.options.env);
    const fleet = this.options.fleet;
    fleet?.local(local);
    const reading = withPublishedLogin(local, fleet?.published());
    const source = reading.login;
    // A follower holds no login of its own: with etcd silent, that says nothing of the login, and marking its
    // agents' profiles would take a working token from them. They keep what they hold until the fleet answers.
    if (!source && fleet?.awaiting() && reading.error?.problem === "not_logged_in") {
      this.failure = undefined;
      this.current = undefined;
      const msg = "this host holds no Claude login and etcd has not answered: the agents keep the token they hold";
      problems.problem("source", "warn", "fleet.waiting", msg);
      return { changed: false };
    }
    if (!source) {
      this.failure = loginFailureOf(reading.error);
      const missing = this.failure.needsLogin;
      problems.problem(
        "source",
        missing ? "warn" : "error",
        missing ? "source.missing" : "source.invalid",
        messageOf(reading.error),
      );
      this.current = undefined;
      return { ...reading, changed: false };
    }
    this.failure = undefined;
    problems.clear("source", "source.recovered", `credentials readable again: ${fingerprint(source.accessToken)}`);
    const previous = this.current;
    this.current = source;
    const changed = !previous || previous.accessToken !== source.accessToken || previous.expiresAt !== source.expiresAt;
    if (changed) {
      const fp = fingerprint(source.accessToken);
      const msg = `${fp} expires ${formatRelative(source.expiresAt, this.options.clock.now())}`;
      problems.event("info", "source.changed", msg, { fingerprint: fp, expiresAt: source.expiresAt });
      this.options.onChange(source);
    }
    return { ...reading, changed };
  }
}
