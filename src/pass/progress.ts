/**
 * How far a long pass has come: the daemon logs it, `sync` on a terminal shows it. A pass of 10,000 agents
 * takes seconds; a short one shows nothing.
 */

/** A pass that runs longer than this shows how far it has come, once per such interval. */
export const PROGRESS_INTERVAL_MS = 2_000;

/** Counts a pass's finished agent copies and calls `show` once per interval while the pass runs. */
export class PassProgress {
  private finished = 0;
  /** Whether `show` was called at all (a terminal line then wants ending). */
  shown = false;
  private next: number;

  constructor(
    private readonly now: () => number,
    private readonly total: number,
    private readonly show: (done: number, total: number) => void,
  ) {
    this.next = now() + PROGRESS_INTERVAL_MS;
  }

  done(): void {
    this.finished++;
    const now = this.now();
    if (now < this.next || this.finished >= this.total) return;
    this.next = now + PROGRESS_INTERVAL_MS;
    this.shown = true;
    this.show(this.finished, this.total);
  }
}
