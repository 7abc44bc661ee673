/**
 * One pass at a time. Work that arrives during a pass waits and is run as one more pass afterwards: a full
 * pass swallows any per-agent work, and per-agent work for several agents becomes one pass over them.
 */
import type { Agent } from "../stores/agents.js";

/** Runs one pass over `only` those agents, or over every agent when undefined. */
export type PassRunner = (only: Agent[] | undefined) => Promise<void>;

export class PassQueue {
  private pendingFull = false;
  private readonly pendingAgents = new Map<string, Agent>();
  private worker: Promise<void> | undefined;
  /** Called once the pass in flight (or the next one) has finished. */
  private afterPass: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly run: PassRunner,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Whether a pass runs now. */
  get busy(): boolean {
    return this.worker !== undefined;
  }

  full(): void {
    this.pendingFull = true;
    this.kick();
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
    return (this.pendingFull || this.pendingAgents.size > 0) && !this.stopped;
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
      const full = this.pendingFull;
      const agents = [...this.pendingAgents.values()];
      this.pendingFull = false;
      this.pendingAgents.clear();
      try {
        await this.run(full ? undefined : agents);
      } catch (err) {
        this.onError(err);
      }
      for (const done of this.afterPass.splice(0)) done();
    }
    for (const done of this.afterPass.splice(0)) done();
  }
}
