/**
 * The state file `status` reads: what the daemon last did, saved after each pass and at stop. A failing
 * write is one problem, logged once until it is writable again.
 */
import { messageOf } from "../core/errors.js";
import type { Clock } from "./clock.js";
import type { ProblemLog } from "./problem-log.js";
import { type DaemonState, type LoginEndTold, readDaemonState, writeDaemonState } from "../runtime/files.js";

export class StateFile {
  readonly state: DaemonState;

  constructor(
    private readonly file: string,
    private readonly problems: ProblemLog,
    private readonly clock: Clock,
    pid: number,
  ) {
    const now = clock.now();
    this.state = { pid, startedAt: now, updatedAt: now };
  }

  /**
   * Takes over from the file a daemon before this one left what must outlast a restart: what it said of each
   * login's end. The rest is this daemon's own. A file that is not ours in shape gives nothing.
   */
  async restore(): Promise<void> {
    const told = (await readDaemonState(this.file))?.loginEndTold;
    if (typeof told !== "object" || told === null || Array.isArray(told)) return;
    const kept = Object.entries(told as Record<string, unknown>).filter(([, entry]) => isLoginEndTold(entry));
    if (kept.length > 0) this.state.loginEndTold = Object.fromEntries(kept) as Record<string, LoginEndTold>;
  }

  async save(): Promise<void> {
    this.state.updatedAt = this.clock.now();
    if (this.problems.last) {
      const { key: _key, ...last } = this.problems.last;
      this.state.lastError = last;
    }
    try {
      await writeDaemonState(this.file, this.state);
      this.problems.clear("state-file", "state_file.recovered", "state file writable again");
    } catch (err) {
      const msg = `cannot write ${this.file}: ${messageOf(err)}`;
      this.problems.problem("state-file", "warn", "state_file.unwritable", msg);
    }
  }
}

function isLoginEndTold(value: unknown): value is LoginEndTold {
  if (typeof value !== "object" || value === null) return false;
  const { event, endsAt, at } = value as Record<string, unknown>;
  return (event === "login.expiring" || event === "login.ended") && Number.isFinite(endsAt) && Number.isFinite(at);
}
