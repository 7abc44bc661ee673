/**
 * Tells the gateway's markings of our profile from our own writes. A store event is ours when the file
 * holds what we last wrote; a marking is the gateway's only when it is new, so a gateway rewrite after using
 * another profile, or our own marking, is never taken for one.
 */
import { createHash } from "node:crypto";
import { readRegularFile } from "../fs/read-file.js";
import { isCredentialMarking } from "../reconcile/cooldown.js";
import type { StoreAdapter, WriteIntent } from "../stores/adapter.js";
import type { Agent } from "../stores/agents.js";
import { MAX_STORE_BYTES } from "../stores/json-file.js";
import type { AuthProfileStore, ProfileUsageStats } from "../types.js";

/** Our markings carry the time they were made, so a few recent ones are enough to recognise them. */
const OURS_KEPT = 16;

export class GatewayMarkings {
  /** A digest of what we last wrote (or are about to write) per store file: 10,000 stores' bytes are megabytes. */
  private readonly written = new Map<string, string>();
  /** Our profile's marking per agent dir as last written by us or seen. */
  private readonly known = new Map<string, string>();
  /**
   * The markings we wrote lately, in any agent: where agents share one store (SQLite), our write for one
   * agent changes what the others see, and must not be taken for the gateway's there either.
   */
  private readonly ours: string[] = [];

  /** Our profile, or our profiles: one per Claude login. */
  constructor(private readonly profiles: () => string | readonly string[]) {}

  private profileIds(): readonly string[] {
    const ids = this.profiles();
    return typeof ids === "string" ? [ids] : ids;
  }

  /** Called before the rename: the watcher may see the new file before the write returns. */
  remember(intent: WriteIntent): void {
    for (const write of intent.writes) this.written.set(write.file, digest(write.content));
  }

  /**
   * The adapter, telling us each store it is about to write: adapters whose files cannot be compared by
   * content (SQLite) do not report their writes, but every adapter writes what the change returned.
   */
  tracking(adapter: StoreAdapter): StoreAdapter {
    return {
      ...adapter,
      update: (agentDir, change, options) =>
        adapter.update(
          agentDir,
          (store) => {
            const result = change(store);
            if (result.next !== store) this.rememberWrite(agentDir, result.next);
            return result;
          },
          options,
        ),
    };
  }

  /** Whether `file` holds exactly what we last wrote there. */
  async isOwnWrite(file: string): Promise<boolean> {
    const ours = this.written.get(file);
    if (ours === undefined) return false;
    const now = await readRegularFile(file, { maxBytes: MAX_STORE_BYTES }).catch(() => undefined);
    return now !== undefined && digest(now) === ours;
  }

  /** Whether `store` shows a new marking of `profile` for a credential problem, by the adapter's own rules. */
  isNewMarking(
    agentDir: string,
    store: AuthProfileStore,
    adapter: StoreAdapter,
    now: number,
    profile = this.profileIds()[0]!,
  ): boolean {
    const stats = store.usageStats?.[profile];
    const marking = markingKey(profile, stats);
    const known = this.known.get(knownKey(agentDir, profile));
    this.known.set(knownKey(agentDir, profile), marking);
    if (marking === known || this.ours.includes(marking) || stats === undefined) return false;
    const marked = adapter.usage.isMarked(stats, now);
    return marked && isCredentialMarking(stats);
  }

  /** The markings in stores not read since the start, so a first watcher event compares with what was there. */
  async learn(agents: readonly Agent[], adapter: StoreAdapter): Promise<void> {
    for (const agent of agents) {
      if (this.profileIds().every((p) => this.known.has(knownKey(agent.dir, p)))) continue;
      const store = await adapter.read(agent.dir).catch(() => undefined);
      if (store) this.rememberStore(agent.dir, store);
    }
  }

  private rememberWrite(agentDir: string, store: AuthProfileStore): void {
    for (const marking of this.rememberStore(agentDir, store)) {
      if (this.ours.includes(marking)) continue;
      this.ours.push(marking);
      if (this.ours.length > OURS_KEPT) this.ours.shift();
    }
  }

  private rememberStore(agentDir: string, store: AuthProfileStore): string[] {
    return this.profileIds().map((profile) => {
      const marking = markingKey(profile, store.usageStats?.[profile]);
      this.known.set(knownKey(agentDir, profile), marking);
      return marking;
    });
  }
}

const digest = (content: string) => createHash("sha256").update(content).digest("base64");

const knownKey = (agentDir: string, profile: string) => `${agentDir}\0${profile}`;

/** The part of one of our profiles' stats that marks it, in every generation's fields. */
function markingKey(profile: string, stats: ProfileUsageStats | undefined): string {
  const { cooldownUntil, disabledUntil, disabledReason, errorCount, failureCounts, blockedUntil, cooldownReason } =
    stats ?? {};
  return JSON.stringify([
    profile,
    cooldownUntil,
    disabledUntil,
    disabledReason,
    errorCount,
    failureCounts,
    blockedUntil,
    cooldownReason,
  ]);
}
