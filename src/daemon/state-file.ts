/**
 * The state file `status` reads: what the daemon last did, saved after each pass and at stop. A failing
 * write is one problem, logged once until it is writable again.
 */
import { messageOf } from "../core/errors.js";
import type { Clock } from "./clock.js";
import type { ProblemLog } from "./problem-log.js";
import { type DaemonState, writeDaemonState } from "./runtime-files.js";

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

  async save(): Promise<void> {
    this.state.updatedAt = this.clock.now();
    if (this.problems.last) this.state.lastError = this.problems.last;
    try {
      await writeDaemonState(this.file, this.state);
      this.problems.clear("state-file", "state_file.recovered", "state file writable again");
    } catch (err) {
      const msg = `cannot write ${this.file}: ${messageOf(err)}`;
      this.problems.problem("state-file", "warn", "state_file.unwritable", msg);
    }
  }
}
