/**
 * This host's campaign to be the one that refreshes a login (etcd3's Election: the oldest key under the election's
 * prefix leads, each key on its campaigner's lease). Leadership is only as good as the lease: etcd ends it `ttl`
 * after the last renewal etcd received, so this host counts its leadership as ending `ttl` after it *sent* the
 * renewal that etcd answered — never later than etcd's own end. A refresh starts only with time left
 * (fleet-refresher.ts); one running when the lease ends is not killed, and the `refreshing` record keeps every
 * other host from refreshing with its token. Every publish is fenced on the election key's create revision
 * (member.ts), in the same transaction.
 */
import type { Campaign, Lease, Namespace } from "etcd3";
import type { Clock } from "../daemon/clock.js";
import { messageOf } from "../core/errors.js";
import { electionName } from "./records.js";

/** What a publish compares: the election key, and the revision it was created at. */
export interface Fence {
  key: string;
  createRevision: string;
}

export interface LeadershipEvents {
  elected: () => void;
  /** Lost or given up; `why` for the log. */
  deposed: (why: string) => void;
}

export class Leadership {
  private entry: Campaign | undefined;
  private elected = false;
  private fence: Fence | undefined;
  /** When etcd may end the lease at the earliest, as this host knows it. */
  private validUntil = 0;
  /** When each keep-alive not yet answered was sent, oldest first. */
  private pending: number[] = [];
  private closed = false;

  constructor(
    private readonly ns: Namespace,
    private readonly login: string,
    private readonly host: string,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly events: LeadershipEvents,
  ) {}

  /** Campaigns (again after a loss); resolves at once, `elected` tells when this host leads. */
  campaign(): void {
    if (this.closed || this.entry) return;
    const ttl = Math.max(1, Math.floor(this.ttlMs / 1000));
    const sent = this.clock.now();
    this.validUntil = sent + ttl * 1000;
    const campaign = (this.entry = this.ns.election(electionName(this.login), ttl).campaign(this.host));
    // etcd3 keeps the campaign's lease private; its keep-alive events are what tells this host how long it leads.
    const lease = (campaign as unknown as { lease: Lease }).lease;
    lease.on("keepaliveFired", () => this.pending.push(this.clock.now()));
    lease.on("keepaliveSucceeded", () => {
      const firedAt = this.pending.shift();
      if (firedAt !== undefined) this.validUntil = Math.max(this.validUntil, firedAt + ttl * 1000);
    });
    // A torn-down keep-alive stream answers none of what it was sent.
    lease.on("keepaliveFailed", () => (this.pending = []));
    campaign.on("elected", () => void this.onElected(campaign, lease.grant()));
    campaign.on("error", (err: unknown) => this.lose(campaign, `its campaign failed: ${messageOf(err)}`));
  }

  private async onElected(campaign: Campaign, leaseId: Promise<string>): Promise<void> {
    try {
      const key = `election/${electionName(this.login)}/${await leaseId}`;
      const kv = (await this.ns.get(key).exec()).kvs[0];
      if (!kv || campaign !== this.entry) return this.lose(campaign, "its election key is gone");
      this.fence = { key, createRevision: kv.create_revision };
      this.elected = true;
      this.events.elected();
    } catch (err) {
      this.lose(campaign, `its election key cannot be read: ${messageOf(err)}`);
    }
  }

  private lose(campaign: Campaign, why: string): void {
    if (campaign !== this.entry) return;
    const was = this.elected;
    this.entry = undefined;
    this.elected = false;
    this.fence = undefined;
    this.pending = [];
    campaign.resign().catch(() => undefined);
    // A campaign that fails before it is elected (etcd down) says nothing here: the member's unreachable line does.
    if (was && !this.closed) this.events.deposed(why);
  }

  /** Whether this host leads, with at least `forMs` of its lease left. */
  holds(forMs = 0): boolean {
    return this.elected && this.clock.now() + forMs < this.validUntil;
  }

  /** The fence of a leader with time left; undefined otherwise. */
  currentFence(): Fence | undefined {
    return this.holds() ? this.fence : undefined;
  }

  /** Gives leadership up (a stop, or the login left this host): the next host is elected at once. */
  async resign(): Promise<void> {
    this.closed = true;
    const campaign = this.entry;
    this.entry = undefined;
    this.elected = false;
    await campaign?.resign().catch(() => undefined);
  }
}
