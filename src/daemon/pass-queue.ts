/**
 * One pass at a time. Work that arrives during a pass waits and is run as one more pass afterwards: a full
 * pass swallows any per-agent work, and per-agent work for several agents becomes one pass over them. A source
 * event during a pass (the credentials file's burst, a trailing look) asks only for a look at the sources once
 * the pass is over: the pass in flight may have read the change already, and a full pass over 10,000 agents
 * that finds them all in step is seconds of work for nothing.
 */
import type { Agent } from "../stores/discovery/agents.js";

/** Runs one pass over `only` those agents, or over every agent when undefined. */
export type PassRunner = (only: Agent[] | undefined) => Promise<void>;

export class PassQueue {
  private pendingFull = false;
  /** A source may have changed since the pass in flight read it. */
  private pendingSources = false;
  private readonly pendingAgents = new Map<string, Agent>();
  private worker: Promise<void> | undefined;
  /** Called once the pass in flight (or the next one) has finished. */
  private afterPass: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly run: PassRunner,
    private readonly onError: (err: unknown) => void,
    /** Re-reads the sources: true when one changed or gives nothing now, which takes a full pass. */
    private readonly sourcesChanged: () => Promise<boolean> = () => Promise.resolve(true),
    /** Everything asked for so far is done (a look at the sources that found nothing included). */
    private readonly onIdle: () => void = () => undefined,
  ) {}

  /** Whether a pass runs now. */
  get busy(): boolean {
    return this.worker !== undefined;
  }

  full(): void {
    this.pendingFull = true;
    this.kick();
  }

  /** A source may have changed: a full pass now (it reads them), or a look at them after the pass in flight. */
  sources(): void {
    if (!this.worker) return this.full();
    this.pendingSources = true;
  }

  agent(agent: Agent): void {
    this.pendingAgents.set(agent.dir, agent);
    this.kick();
  }

  /** Resolves once the pass in flight, or the next one, has finished (or at once when none will run). */
  nextPassDone(): Promise<void> {
    return new Promise((resolve) => this.afterPass.push(resolve));
  }

  /** Runs no pass after the one in flight; resolves when that one has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.worker;
  }

  private hasWork(): boolean {
    return (this.pendingFull || this.pendingSources || this.pendingAgents.size > 0) && !this.stopped;
  }

  private kick(): void {
    if (this.worker || this.stopped) return;
    this.worker = this.drain().finally(() => {
      this.worker = undefined;
      if (this.hasWork()) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.hasWork()) {
      const look = this.pendingSources && !this.pendingFull;
      this.pendingSources = false;
      try {
        // Read before this pass's work is taken: an event while reading joins it.
        if (look && (await this.sourcesChanged())) this.pendingFull = true;
        const full = this.pendingFull;
        const agents = [...this.pendingAgents.values()];
        this.pendingFull = false;
        this.pendingAgents.clear();
        if (!full && agents.length === 0) continue;
        await this.run(full ? undefined : agents);
      } catch (err) {
        this.onError(err);
      }
      for (const done of this.afterPass.splice(0)) done();
    }
    for (const done of this.afterPass.splice(0)) done();
    if (!this.stopped) this.onIdle();
  }
}
