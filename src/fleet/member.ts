/**
 * This host in the fleet (docs/fleet.md): its record, its view of what the fleet published (logins' access
 * tokens, setup-tokens, hosts, leaders), its campaigns for the logins it holds, and the fenced writes. The view is
 * read whole again after every watch event and on a tick: a fleet's keys are few, and a whole read cannot miss an
 * event the way a dropped watch can. etcd unreachable is a problem line, never a crash: the last view stays, and an
 * access token in it serves until its own expiry (the pass checks expiry as for any login).
 */
import type { Etcd3, Namespace, Watcher } from "etcd3";
import os from "node:os";
import type { FleetConfig } from "../config/config.js";
import { messageOf } from "../core/errors.js";
import { expandHome } from "../fs/home.js";
import { fingerprint } from "../core/fingerprint.js";
import type { Clock } from "../daemon/clock.js";
import type { Fields, Level } from "../daemon/problem-log.js";
import type { LogEvent } from "../log/logger.js";
import { tokenDigest } from "../sources/token-book.js";
import type { SetupToken, SourceCredential } from "../types.js";
import { connectEtcd, etcdErrorText } from "./etcd.js";
import { Leadership } from "./leadership.js";
import {
  type AccessRecord,
  type CredentialsRecord,
  type HostRecord,
  type RefreshingRecord,
  accessKey,
  accessRecord,
  credentialsKey,
  credentialsRecord,
  hostKey,
  hostRecord,
  parseRecord,
  refreshingKey,
  refreshingRecord,
  setupTokenKey,
  setupTokenRecord,
} from "./records.js";
import { type FleetKey, open, readKey, seal } from "./seal.js";

export interface FleetLog {
  event(level: Level, event: LogEvent, msg: string, fields?: Fields): void;
  problem(key: string, level: Level, event: LogEvent, msg: string, fields?: Fields): void;
  clear(key: string, event: LogEvent, msg: string, fields?: Fields): void;
  forget(key: string): void;
}

export interface FleetMemberOptions {
  fleet: FleetConfig;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  timers: { set(name: string, delayMs: number, fn: () => void): void };
  log: FleetLog;
  /** What the fleet published changed (a login's token, a setup-token): the daemon reads its sources again. */
  onChange: () => void;
  /** This host was elected for, or lost, a login. */
  onLeadership: (login: string, leads: boolean) => void;
  /** What `status` shows of the fleet changed (etcd's reachability, a leader, a host): the state file takes it. */
  onView?: (view: FleetView) => void;
}

/** A login as the fleet published it. */
export interface PublishedLogin extends SourceCredential {
  by: string;
  publishedAt: number;
}

/** What `status` and /healthz show of the fleet, as this host last saw it. */
export interface FleetView {
  host: string;
  reachable: boolean;
  /** When etcd last answered this host. */
  lastContactAt?: number;
  /** Per login: the host that refreshes it, or null while none leads. */
  leaders: Record<string, string | null>;
  hosts: Array<Pick<HostRecord, "host" | "lastSyncAt" | "lastSyncSummary" | "standby">>;
  /** Per login: a refresh another host started and did not finish (its token may be spent). */
  unfinished: Record<string, { host: string; at: number }>;
}

type PublishResult = "published" | "unchanged" | "older" | "not-leader";

/** The fields of a published login that tell one publication from the next. */
const sameLogin = (a: { expiresAt: number; accessToken?: string }, b: { expiresAt: number; accessToken?: string }) =>
  a.expiresAt === b.expiresAt && a.accessToken === b.accessToken;

export class FleetMember {
  readonly host: string;
  private readonly ns: Namespace;
  private readonly leaderships = new Map<string, Leadership>();
  private logins = new Map<string, PublishedLogin>();
  private tokens = new Map<string, SetupToken>();
  private refreshing = new Map<string, RefreshingRecord & { modRevision: string }>();
  private view: FleetView;
  private hostLease: ReturnType<Namespace["lease"]> | undefined;
  private watcher: Watcher | undefined;
  private record: HostRecord;
  private closed = false;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private publishing: Promise<unknown> = Promise.resolve();
  /** The host record as last put; it is put again only when it changed or its lease was lost. */
  private recordPut: string | undefined;
  /** Why this host may not stand by although it holds a login key (it does not open the fleet's credentials). */
  private loginKeyProblem: string | undefined;

  private constructor(
    private readonly client: Etcd3,
    private readonly options: FleetMemberOptions,
    private readonly fleetKeys: readonly FleetKey[],
    /** The login key first (it seals), then previous keys; empty on a host that only follows. */
    private readonly loginKeys: readonly FleetKey[],
  ) {
    this.host = options.fleet.host ?? safeHostName();
    this.ns = client.namespace(options.fleet.prefix);
    this.view = { host: this.host, reachable: false, leaders: {}, hosts: [], unfinished: {} };
    this.record = { host: this.host, pid: process.pid, startedAt: options.clock.now(), standby: [] };
  }

  /** Reads the keys and makes the client; etcd itself is reached in `start`, and its absence is no error here. */
  static async create(options: FleetMemberOptions): Promise<FleetMember> {
    const { fleet, env } = options;
    const previous = await Promise.all(fleet.previousKeyFiles.map((file) => readKey(expandHome(file, env.HOME ?? ""))));
    const fleetKey = await readKey(expandHome(fleet.keyFile, env.HOME ?? ""));
    const loginKey = fleet.loginKeyFile ? await readKey(expandHome(fleet.loginKeyFile, env.HOME ?? "")) : undefined;
    const client = await connectEtcd(fleet, env);
    return new FleetMember(client, options, [fleetKey, ...previous], loginKey ? [loginKey, ...previous] : []);
  }

  /** Joins: the host record on its lease, the watch, the first read. Unreachable etcd is retried on the tick. */
  async start(): Promise<void> {
    this.tick();
    await this.reload();
  }

  /** Whether this host may stand by for logins: it holds the login key. */
  get canStandBy(): boolean {
    return this.loginKeys.length > 0;
  }

  /** Why this host's login key cannot serve (the fleet's credentials are sealed with another), if so. */
  get loginKeyMismatch(): string | undefined {
    return this.loginKeyProblem;
  }

  /** Campaigns for a login this host holds (with the login key), or gives it up when it no longer holds it. */
  standBy(login: string, holds: boolean): void {
    const leadership = this.leaderships.get(login);
    if (holds && this.canStandBy && !this.loginKeyProblem && !this.closed) {
      if (leadership) return leadership.campaign();
      const fresh = new Leadership(this.ns, login, this.host, this.options.fleet.leaseTime, this.options.clock, {
        elected: () => {
          this.options.log.event("info", "fleet.elected", `this host (${this.host}) now refreshes ${login}`, { login });
          this.options.onLeadership(login, true);
          void this.reload();
        },
        deposed: (why) => {
          this.options.log.event("warn", "fleet.deposed", `this host no longer refreshes ${login}: ${why}`, { login });
          this.options.onLeadership(login, false);
          // Campaign again once etcd answers: the tick calls standBy's campaign for every login still held.
        },
      });
      this.leaderships.set(login, fresh);
      fresh.campaign();
      this.record.standby = [...this.leaderships.keys()];
      void this.putRecord();
    } else if (leadership && (!holds || this.loginKeyProblem)) {
      this.leaderships.delete(login);
      this.record.standby = [...this.leaderships.keys()];
      void leadership.resign();
      void this.putRecord();
    }
  }

  leadership(login: string): Leadership | undefined {
    return this.leaderships.get(login);
  }

  /** The ids of the logins the fleet published (their tokens may have expired). */
  publishedLogins(): string[] {
    return [...this.logins.keys()];
  }

  /** The login as the fleet published it, while its token has not expired. */
  login(login: string): PublishedLogin | undefined {
    const published = this.logins.get(login);
    return published && published.expiresAt > this.options.clock.now() ? published : undefined;
  }

  /**
   * The login's whole credentials as published, opened with the login key (undefined without a record or a key),
   * and the record's revision ("0" when there is none), for beginRefresh to compare.
   */
  async freshCredentials(
    login: string,
  ): Promise<{ oauth?: Record<string, unknown>; expiresAt?: number; revision: string }> {
    const key = credentialsKey(login);
    const kv = (await this.ns.get(key).exec()).kvs[0];
    if (!kv) return { revision: "0" };
    if (this.loginKeys.length === 0) return { revision: kv.mod_revision };
    const record = parseRecord(credentialsRecord, key, kv.value.toString());
    if (typeof record === "string") throw new Error(record);
    const oauth = JSON.parse(open(this.loginKeys, this.fullKey(key), record.oauth)) as Record<string, unknown>;
    return { oauth, expiresAt: record.expiresAt, revision: kv.mod_revision };
  }

  /** A refresh another host began and did not finish, as etcd says now. */
  async unfinishedRefresh(login: string): Promise<(RefreshingRecord & { modRevision: string }) | undefined> {
    const kv = (await this.ns.get(refreshingKey(login)).exec()).kvs[0];
    if (!kv) return undefined;
    const record = parseRecord(refreshingRecord, refreshingKey(login), kv.value.toString());
    return typeof record === "string" ? undefined : { ...record, modRevision: kv.mod_revision };
  }

  setupTokens(): SetupToken[] {
    return [...this.tokens.values()];
  }

  snapshot(): FleetView {
    return this.view;
  }

  /** Reads the fleet once, now, for a command (doctor); an unreachable etcd is thrown, not logged. */
  async look(): Promise<FleetView> {
    await this.readAll();
    return this.view;
  }

  /**
   * Publishes this host's login: its access token (on a lease that ends at its expiry) and, with the login key, its
   * whole credentials. As leader the transaction compares the election key, so a deposed leader's write fails; a
   * host handing back a refresh it began (`handBack`) compares that record instead. Nothing older than what is
   * published is written, nor the same again.
   */
  publish(
    login: string,
    local: SourceCredential,
    oauth: Record<string, unknown> | undefined,
    handBack?: { modRevision: string },
  ): Promise<PublishResult> {
    // One at a time: two reads that see one new token (an election, a watch event) publish it once.
    const next = this.publishing.then(() => this.publishNow(login, local, oauth, handBack));
    this.publishing = next.catch(() => undefined);
    return next;
  }

  private async publishNow(
    login: string,
    local: SourceCredential,
    oauth: Record<string, unknown> | undefined,
    handBack?: { modRevision: string },
  ): Promise<PublishResult> {
    const fence = this.leaderships.get(login)?.currentFence();
    if (!fence && !handBack) return "not-leader";
    const now = this.options.clock.now();
    const published = this.logins.get(login);
    if (published && sameLogin(published, local)) return "unchanged";
    if (published && published.expiresAt > local.expiresAt) return "older";
    const ttl = Math.ceil((local.expiresAt - now) / 1000);
    if (ttl < 1) return "older";
    const lease = this.ns.lease(ttl, { autoKeepAlive: false });
    const leaseId = await lease.grant();
    const access: AccessRecord = {
      by: this.host,
      publishedAt: now,
      expiresAt: local.expiresAt,
      ...(local.loginEndsAt !== undefined ? { loginEndsAt: local.loginEndsAt } : {}),
      fingerprint: fingerprint(local.accessToken),
      token: seal(this.fleetKeys[0]!, this.fullKey(accessKey(login)), local.accessToken),
    };
    const writes = [this.ns.put(accessKey(login)).value(JSON.stringify(access)).lease(leaseId)];
    // The whole credentials only when they are this very login (on macOS the winner may be the Keychain's).
    if (oauth && oauth.accessToken === local.accessToken && this.loginKeys.length > 0 && local.refreshToken) {
      const credentials: CredentialsRecord = {
        by: this.host,
        publishedAt: now,
        expiresAt: local.expiresAt,
        refreshDigest: tokenDigest(local.refreshToken),
        oauth: seal(this.loginKeys[0]!, this.fullKey(credentialsKey(login)), JSON.stringify(oauth)),
      };
      writes.push(this.ns.put(credentialsKey(login)).value(JSON.stringify(credentials)));
    }
    const txn = fence
      ? this.ns.if(fence.key, "Create", "==", fence.createRevision)
      : this.ns.if(refreshingKey(login), "Mod", "==", handBack!.modRevision);
    const result = await txn.then(...writes, this.ns.delete().key(refreshingKey(login))).commit();
    if (!result.succeeded) {
      lease.release();
      return "not-leader";
    }
    const fp = fingerprint(local.accessToken);
    this.options.log.event("info", "fleet.published", `published ${login}: ${fp} to the fleet`, {
      login,
      fingerprint: fp,
    });
    await this.reload();
    return "published";
  }

  /**
   * What this host's own claude holds, after each read: the leader publishes it when it is newer than the fleet's
   * (a refresh, or a new `claude auth login` here); a refresh this host began and could not publish (etcd was gone,
   * or the daemon died while claude ran) is handed back, or its record taken back when claude changed nothing.
   * `busy`: a refresh of this login runs now (its own record is not a leftover). A record whose token claude still
   * holds is taken back only `settleMs` after it was written: a claude left running by a daemon that died could
   * still be saving the token it was given for that one.
   */
  async offerLocal(
    login: string,
    local: SourceCredential,
    oauth: () => Promise<Record<string, unknown> | undefined>,
    busy: boolean,
    settleMs: number,
  ): Promise<void> {
    const mine = this.refreshing.get(login);
    if (mine?.host === this.host && !busy) {
      const same = local.refreshToken !== undefined && tokenDigest(local.refreshToken) === mine.spends;
      if (same && this.options.clock.now() - mine.at < settleMs) return;
      if (same) return this.endRefresh(login, mine.modRevision);
      const handed = await this.publish(login, local, await oauth(), { modRevision: mine.modRevision });
      if (handed === "published")
        this.options.log.event("info", "fleet.handover", `handed back the refresh of ${login} this host made`, {
          login,
        });
      return;
    }
    const published = this.logins.get(login);
    if (busy || !this.leaderships.get(login)?.holds()) return;
    if (published && published.expiresAt >= local.expiresAt) return;
    await this.publish(login, local, await oauth());
  }

  /**
   * Records, fenced on leadership, that this host runs claude with the refresh token of `spends`; undefined when
   * this host no longer leads or what it read has changed since.
   */
  async beginRefresh(
    login: string,
    spends: string,
    seen: { credentials: string; refreshing: string },
  ): Promise<string | undefined> {
    const fence = this.leaderships.get(login)?.currentFence();
    if (!fence) return undefined;
    const record: RefreshingRecord = { host: this.host, spends, at: this.options.clock.now() };
    // In one transaction with the leadership: the credentials and the refreshing record are as this host read them.
    // A hand-back landing between the read and here (the token installed may just have been spent) fails it.
    const result = await this.ns
      .if(fence.key, "Create", "==", fence.createRevision)
      .and(credentialsKey(login), "Mod", "==", seen.credentials)
      .and(refreshingKey(login), "Mod", "==", seen.refreshing)
      .then(this.ns.put(refreshingKey(login)).value(JSON.stringify(record)))
      .commit();
    return result.succeeded ? result.header.revision : undefined;
  }

  /** Takes back this host's record of a refresh that changed nothing (or was published since: then a no-op). */
  async endRefresh(login: string, modRevision: string): Promise<void> {
    await this.ns
      .if(refreshingKey(login), "Mod", "==", modRevision)
      .then(this.ns.delete().key(refreshingKey(login)))
      .commit();
  }

  /** Publishes a setup-token for every host; `ours` are the digests of the tokens it may replace. */
  async publishSetupToken(token: SetupToken): Promise<void> {
    const key = setupTokenKey(token.profileId);
    const record = {
      by: this.host,
      savedAt: token.savedAt ?? this.options.clock.now(),
      ...(token.expires !== undefined ? { expires: token.expires } : {}),
      fingerprint: fingerprint(token.token),
      ours: [...(token.ours ?? [])].slice(-64),
      token: seal(this.fleetKeys[0]!, this.fullKey(key), token.token),
    };
    await this.ns.put(key).value(JSON.stringify(record));
  }

  async removeSetupToken(profileId: string): Promise<void> {
    await this.ns.delete().key(setupTokenKey(profileId));
  }

  /** This host's last sync, for every host's `status`. */
  noteSync(at: number, summary: string | undefined): void {
    this.record.lastSyncAt = at;
    if (summary !== undefined) this.record.lastSyncSummary = summary.slice(0, 2000);
    void this.putRecord();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.leaderships.values()].map((l) => l.resign()));
    await this.watcher?.cancel().catch(() => undefined);
    await this.hostLease?.revoke().catch(() => undefined);
    this.client.close();
  }

  private fullKey(key: string): string {
    return `${this.options.fleet.prefix}${key}`;
  }

  /** Every third of the lease time: the record, the watch and the campaigns again where lost, and a whole read. */
  private tick(): void {
    if (this.closed) return;
    this.options.timers.set("fleet-tick", Math.max(1_000, this.options.fleet.leaseTime / 3), () => this.tick());
    void this.ensureWatch();
    void this.putRecord();
    for (const leadership of this.leaderships.values()) leadership.campaign();
    void this.reload();
  }

  private async ensureWatch(): Promise<void> {
    if (this.watcher || this.closed) return;
    try {
      const watcher = await this.ns.watch().prefix("").create();
      this.watcher = watcher;
      watcher.on("data", () => void this.reload());
      watcher.on("connected", () => void this.reload());
      watcher.on("error", () => {
        this.watcher = undefined;
        void watcher.cancel().catch(() => undefined);
      });
    } catch (err) {
      this.unreachable(err);
    }
  }

  private async putRecord(): Promise<void> {
    if (this.closed) return;
    const text = JSON.stringify(this.record);
    if (this.hostLease && this.recordPut === text) return;
    try {
      if (!this.hostLease) {
        const lease = this.ns.lease(Math.max(1, Math.floor(this.options.fleet.leaseTime / 1000)));
        lease.on("lost", () => {
          if (this.hostLease === lease) this.hostLease = undefined;
        });
        this.hostLease = lease;
      }
      await this.hostLease.put(hostKey(this.host)).value(text);
      this.recordPut = text;
    } catch (err) {
      this.hostLease = undefined;
      this.recordPut = undefined;
      this.unreachable(err);
    }
  }

  /** Reads the fleet whole; one read at a time, and one more if asked while it ran. */
  private reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.readAll()
      .catch((err: unknown) => this.unreachable(err))
      .finally(() => {
        this.reloading = undefined;
        if (this.reloadAgain && !this.closed) {
          this.reloadAgain = false;
          void this.reload();
        }
      });
    return this.reloading;
  }

  private unreachable(err: unknown): void {
    if (this.closed) return;
    this.setView({ ...this.view, reachable: false });
    const since = this.view.lastContactAt ? ` (last answered ${new Date(this.view.lastContactAt).toISOString()})` : "";
    // One line per outage: the cause changes with each try (refused, then the client's circuit breaker), so it is
    // a field, not part of the message the problem log compares.
    this.options.log.problem(
      "fleet",
      "warn",
      "fleet.unreachable",
      `etcd cannot be reached${since}; serving the last published tokens until they expire`,
      { error: etcdErrorText(err) },
    );
  }

  private async readAll(): Promise<void> {
    const response = await this.ns.getAll().prefix("").exec();
    const now = this.options.clock.now();
    const logins = new Map<string, PublishedLogin>();
    const tokens = new Map<string, SetupToken>();
    const refreshing = new Map<string, RefreshingRecord & { modRevision: string }>();
    const leaders: Record<string, { host: string; created: bigint } | null> = {};
    const hosts: FleetView["hosts"] = [];
    let mismatch: string | undefined;
    const prefix = this.options.fleet.prefix;
    for (const kv of response.kvs) {
      const full = kv.key.toString();
      const key = full.startsWith(prefix) ? full.slice(prefix.length) : full;
      const text = kv.value.toString();
      const parts = /^(?:logins\/(.+)\/(access|credentials|refreshing)|setup-tokens\/(.+)|hosts\/(.+))$/.exec(key);
      const election = /^election\/logins\/(.+)\/[0-9a-f]+$/.exec(key);
      if (election) {
        const [, login] = election;
        const created = BigInt(kv.create_revision);
        const current = leaders[login!];
        if (!current || created < current.created) leaders[login!] = { host: text.slice(0, 64), created };
        continue;
      }
      if (!parts) continue;
      const [, login, kind, profile, host] = parts;
      // Said once per key and reason, not on every read of the fleet.
      const invalid = (why: string) =>
        this.options.log.problem(`fleet-invalid:${key}`, "warn", "fleet.invalid", `${why}; skipped`, { etcdKey: key });
      if (kind === "access") {
        const record = parseRecord(accessRecord, key, text);
        if (typeof record === "string") invalid(record);
        else this.openAccess(login!, key, record, logins, invalid);
      } else if (kind === "credentials") {
        const record = parseRecord(credentialsRecord, key, text);
        if (typeof record === "string") invalid(record);
        // Read only by a new leader, fresh (freshCredentials): here it is only checked, and that this host's
        // login key opens it: a standby that could not would be elected and then never refresh.
        else if (this.loginKeys.length > 0 && !this.loginKeys.some((k) => k.id === record.oauth.key)) {
          const held = this.loginKeys.map((k) => k.id).join(", ");
          mismatch = `${key} is sealed with login key ${record.oauth.key}, and this host holds ${held}`;
        }
      } else if (kind === "refreshing") {
        const record = parseRecord(refreshingRecord, key, text);
        if (typeof record === "string") invalid(record);
        else refreshing.set(login!, { ...record, modRevision: kv.mod_revision });
      } else if (profile !== undefined) {
        const record = parseRecord(setupTokenRecord, key, text);
        if (typeof record === "string") invalid(record);
        else {
          try {
            const token = open(this.fleetKeys, this.fullKey(key), record.token);
            const ours = new Set([...(record.ours ?? []), tokenDigest(token)]);
            tokens.set(profile, {
              profileId: profile,
              token,
              origin: `fleet (set on ${record.by})`,
              savedAt: record.savedAt,
              ...(record.expires !== undefined ? { expires: record.expires } : {}),
              ours,
            });
          } catch (err) {
            invalid(messageOf(err));
          }
        }
      } else if (host !== undefined) {
        const record = parseRecord(hostRecord, key, text);
        if (typeof record === "string") invalid(record);
        else {
          hosts.push({ host: record.host, standby: record.standby, ...pick(record) });
          if (host === this.host && this.recordPut !== undefined) this.noteNameClash(record);
        }
      }
    }
    this.noteLoginKey(mismatch);
    const changed = changedLogins(this.logins, logins) || changedTokens(this.tokens, tokens);
    this.logins = logins;
    this.tokens = tokens;
    this.refreshing = refreshing;
    const unfinished = Object.fromEntries(
      [...refreshing].filter(([, r]) => r.host !== this.host).map(([login, r]) => [login, { host: r.host, at: r.at }]),
    );
    this.setView({
      host: this.host,
      reachable: true,
      lastContactAt: now,
      hosts: hosts.sort((a, b) => a.host.localeCompare(b.host)),
      unfinished,
      leaders: {
        ...Object.fromEntries([...this.leaderships.keys()].map((login) => [login, null])),
        ...Object.fromEntries(Object.entries(leaders).map(([login, l]) => [login, l?.host ?? null])),
      },
    });
    this.options.log.clear("fleet", "fleet.reachable", "etcd answers again");
    if (changed) this.options.onChange();
  }

  /**
   * Another host writing this host's record: two hosts under one name would each take the other's `refreshing`
   * record for its own. Said once; `fleet.host` tells them apart.
   */
  private noteNameClash(record: HostRecord): void {
    if (record.pid === this.record.pid && record.startedAt === this.record.startedAt) return;
    const msg =
      `another host (pid ${record.pid}) joined the fleet as ${this.host}: give each host its own fleet.host; ` +
      "until then a refresh either began may be taken for the other's";
    this.options.log.problem("fleet-name", "error", "fleet.invalid", msg);
    this.recordPut = undefined;
  }

  /** Takes a new view; tells the daemon when what status shows of it changed (not every read's time). */
  private setView(view: FleetView): void {
    const shown = (v: FleetView) =>
      JSON.stringify([v.reachable, v.leaders, v.unfinished, v.hosts.map((h) => [h.host, h.standby])]);
    const changed = shown(view) !== shown(this.view);
    this.view = view;
    if (changed) this.options.onView?.(view);
  }

  /** A login key that does not open the fleet's credentials ends this host's campaigns, with one line. */
  private noteLoginKey(mismatch: string | undefined): void {
    if (mismatch === this.loginKeyProblem) return;
    this.loginKeyProblem = mismatch;
    if (!mismatch) return this.options.log.forget("fleet-login-key");
    const msg = `${mismatch}: this host does not stand by (copy the login key from a standby host to loginKeyFile)`;
    this.options.log.problem("fleet-login-key", "error", "fleet.invalid", msg);
    for (const login of [...this.leaderships.keys()]) this.standBy(login, false);
  }

  private openAccess(
    login: string,
    key: string,
    record: AccessRecord,
    into: Map<string, PublishedLogin>,
    invalid: (why: string) => void,
  ): void {
    try {
      const accessToken = open(this.fleetKeys, this.fullKey(key), record.token);
      into.set(login, {
        origin: `fleet (published by ${record.by})`,
        accessToken,
        expiresAt: record.expiresAt,
        ...(record.loginEndsAt !== undefined ? { loginEndsAt: record.loginEndsAt } : {}),
        by: record.by,
        publishedAt: record.publishedAt,
      });
    } catch (err) {
      invalid(messageOf(err));
    }
  }
}

function pick(record: HostRecord): { lastSyncAt?: number; lastSyncSummary?: string } {
  return {
    ...(record.lastSyncAt !== undefined ? { lastSyncAt: record.lastSyncAt } : {}),
    ...(record.lastSyncSummary !== undefined ? { lastSyncSummary: record.lastSyncSummary } : {}),
  };
}

function changedLogins(before: Map<string, PublishedLogin>, after: Map<string, PublishedLogin>): boolean {
  if (before.size !== after.size) return true;
  for (const [login, value] of after) {
    const old = before.get(login);
    if (!old || !sameLogin(old, value)) return true;
  }
  return false;
}

function changedTokens(before: Map<string, SetupToken>, after: Map<string, SetupToken>): boolean {
  if (before.size !== after.size) return true;
  for (const [id, value] of after) if (before.get(id)?.token !== value.token) return true;
  return false;
}

/** The OS host name as a fleet host name (HOST_NAME in config.ts): other characters become "-". */
function safeHostName(): string {
  const name = os
    .hostname()
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  return (name || "host").slice(0, 63);
}
