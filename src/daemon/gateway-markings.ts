/**
 * Tells the gateway's markings of our profile from our own writes. A store event is ours when the file
 * holds what we last wrote; a marking is the gateway's only when it is new, so a gateway rewrite after using
 * another profile, or our own marking, is never taken for one.
 */
import { createHash } from "node:crypto";
import { readRegularFile } from "../fs/read-file.js";
import { isCredentialMarking } from "../reconcile/cooldown.js";
import { inSessions, type StoreAdapter, type WriteIntent } from "../stores/adapter.js";
import type { Agent } from "../stores/discovery/agents.js";
import { MAX_STORE_BYTES } from "../stores/json/file.js";
import type { AuthProfileStore, ProfileUsageStats } from "../types.js";

/** Our markings carry the time they were made, so a few recent ones are enough to recognise them. */
const OURS_KEPT = 16;
/**
 * The markings seen per agent and profile: a read in the middle of our own write (the gateway's marking that
 * we are about to clear) still shows the one before what we last remembered, and must not be answered twice.
 */
const SEEN_KEPT = 4;

export class GatewayMarkings {
  /** A digest of what we last wrote (or are about to write) per store file: 10,000 stores' bytes are megabytes. */
  private readonly written = new Map<string, string>();
  /** Our profile's markings per agent dir as lately written by us or seen, the last one last. */
  private readonly known = new Map<string, string[]>();
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
    const seen = this.see(agentDir, profile, marking);
    if (seen || this.ours.includes(marking) || stats === undefined) return false;
    const marked = adapter.usage.isMarked(stats, now);
    return marked && isCredentialMarking(stats);
  }

  /** The markings in stores not read since the start, so a first watcher event compares with what was there. */
  async learn(agents: readonly Agent[], adapter: StoreAdapter): Promise<void> {
    await inSessions([adapter], async () => {
      for (const agent of agents) {
        if (this.profileIds().every((p) => this.known.has(knownKey(agent.dir, p)))) continue;
        const store = await adapter.read(agent.dir).catch(() => undefined);
        if (store) this.rememberStore(agent.dir, store);
      }
    });
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
      this.see(agentDir, profile, marking);
      return marking;
    });
  }

  /** Records `marking` as the latest in `agentDir`; whether it was seen (or written) there lately. */
  private see(agentDir: string, profile: string, marking: string): boolean {
    const key = knownKey(agentDir, profile);
    const seen = this.known.get(key) ?? [];
    const before = seen.includes(marking);
    const next = [...seen.filter((m) => m !== marking), marking].slice(-SEEN_KEPT);
    this.known.set(key, next);
    return before;
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
