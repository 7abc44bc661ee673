/**
 * Scenario 2, crash, for every store format: the real daemon is killed with SIGKILL at random moments while it
 * syncs rewrites of the credentials. After every kill each store must be readable (valid JSON; for SQLite, a
 * database that passes its integrity check) holding one whole credential (token and expiry from the same
 * rewrite) or none, and the next start must catch up by itself. In the SQLite era a gateway writer works on the
 * same database throughout: none of its writes may be lost. json-v1 runs FAULTS_CRASH_SYNCS syncs into three
 * agents; split a fifth of that into three agents; sqlite a fifth of that into the shared store. The formats run
 * side by side: each has its own HOME.
 *
 * A lock a kill leaves is taken at once when it shows it was ours: json-v1's is named in our journal, split's
 * names our dead pid. One that does not (a kill in the few system calls between making the lock and noting it,
 * or writing the pid) must be taken over once stale: each format with file locks has one kill made to land that
 * way on purpose (its note removed, or its pid), and the lock aged to turn stale AGED_STALE_IN_MS after the
 * restart instead of 30 s: its age is all the lock's holders judge staleness by.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { fingerprint } from "../src/core/fingerprint.js";
import { lockJournalPath } from "../src/runtime/files.js";
import type { StoreFormat } from "../src/stores/discovery/generation.js";
import { DaemonProcess, installFakeClaude } from "../test/helpers/daemon.js";
import { makeHome, type TestHome } from "../test/helpers/env.js";
import { entriesConfig, stateDbPath, writeStateDb } from "../test/helpers/sqlite-store.js";
import { type Outcome, type Row, env, must, progress, row, runWorker, sleep } from "./harness.js";

const NAME = "2 crash (kill -9)";
/** The gateway's stale time: a lock left behind may block no longer than this. */
const STALE_MS = 30_000;
/** How soon after the restart the lock of the kill made to miss the journal turns stale. */
const AGED_STALE_IN_MS = 8_000;
/**
 * A restart whose left locks the journal named: node's start, the scan and one pass, under a second idle and
 * 5 to 10 s on a loaded 2-core runner (10.2 s once, SQLite, with the interop tests and another suite beside it);
 * waiting for a lock to turn stale instead would take over 30 s, which this bound still tells apart.
 */
const RESTART_BOUND_MS = 20_000;
/**
 * A lock the journal missed, from the moment it turned stale: the next try (≤ 1.25 s, FILE_LOCK_RETRY) and a
 * pass, about 1.5 s; the gateway's own schedule (tries up to 10 s apart) would miss this by seconds.
 */
const AFTER_STALE_BOUND_MS = 6_000;
/** Temp files of our atomic writes (`.<16 hex>.tmp`) and of write-file-atomic, which older versions used. */
const TEMP_FILE = /^(auth-profiles|auth-state)\.json(\.[0-9a-f]{16}\.tmp|\.\d+)$/;

interface Credential {
  token?: unknown;
  expires?: unknown;
}

interface Era {
  format: StoreFormat;
  agents: string[];
  profileId: string;
  /** Makes the stores; returns the daemon's arguments. */
  setup(t: TestHome): string[];
  /** Our profile in `agent`'s store now; "invalid" when the store cannot be read whole. */
  ours(t: TestHome, agent: string): Credential | undefined | "invalid";
  /** The store lock a kill can leave (undefined where none: SQLite's locks die with us). */
  lockPath?(t: TestHome, agent: string): string;
  /** Whether the next start can tell that `lock`, left by a kill, was ours. */
  ownerShown?(t: TestHome, lock: string): boolean;
  /** Makes `lock` one the next start cannot tell was ours, as a kill just after making it would. */
  hideOwner?(t: TestHome, lock: string): void;
}

/** The journal's notes that name `lock`. */
function notesOf(t: TestHome, lock: string): string[] {
  const journal = lockJournalPath(t.env);
  if (!existsSync(journal)) return [];
  return readdirSync(journal)
    .map((name) => path.join(journal, name))
    .filter((file) => readFileSync(file, "utf8").includes(JSON.stringify(lock)));
}

function sidecarPid(lock: string): unknown {
  try {
    return (JSON.parse(readFileSync(lock, "utf8")) as { pid?: unknown }).pid;
  } catch {
    return undefined;
  }
}

function jsonOurs(t: TestHome, agent: string, id: string): Credential | undefined | "invalid" {
  try {
    const store = JSON.parse(readFileSync(t.storePath(agent), "utf8")) as { profiles?: Record<string, Credential> };
    return store.profiles?.[id];
  } catch {
    return "invalid";
  }
}

const ERAS: Era[] = [
  {
    format: "json-v1",
    agents: ["main", "work", "ops"],
    profileId: "anthropic:claude-cli",
    setup(t) {
      for (const agent of this.agents) t.writeStore(agent, { version: 1, profiles: {} });
      return [];
    },
    ours(t, agent) {
      return jsonOurs(t, agent, this.profileId);
    },
    lockPath: (t, agent) => `${t.storePath(agent)}.lock`,
    ownerShown: (t, lock) => notesOf(t, lock).length > 0,
    hideOwner: (t, lock) => notesOf(t, lock).forEach((note) => rmSync(note)),
  },
  {
    format: "split",
    agents: ["main", "work", "ops"],
    profileId: "anthropic:claude-cli",
    setup(t) {
      for (const agent of this.agents) {
        t.writeStore(agent, { version: 1, profiles: {} });
        writeFileSync(path.join(t.agentDir(agent), "auth-state.json"), JSON.stringify({ version: 1 }));
      }
      return [];
    },
    ours(t, agent) {
      return jsonOurs(t, agent, this.profileId);
    },
    lockPath: (t, agent) => `${t.storePath(agent)}.lock`,
    ownerShown: (_t, lock) => typeof sidecarPid(lock) === "number",
    hideOwner: (_t, lock) => writeFileSync(lock, ""),
  },
  {
    format: "sqlite",
    // Every agent without its own database reads the shared store: one store to check.
    agents: ["main"],
    profileId: "anthropic:login",
    setup(t) {
      writeStateDb(t, { store: { version: 1, profiles: {} }, state: { version: 1 } });
      writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, this.agents)));
      const config = path.join(t.root, "config.json");
      writeFileSync(config, JSON.stringify({ profileId: this.profileId, credentialType: "token" }));
      return ["--config", config];
    },
    ours(t) {
      try {
        const db = new Database(stateDbPath(t), { readonly: true, fileMustExist: true });
        try {
          if (db.pragma("integrity_check", { simple: true }) !== "ok") return "invalid";
          const row = db.prepare("SELECT value_json AS json FROM config_machine_state WHERE state_key = ?");
          const found = row.get("authProfiles.store") as { json: string } | undefined;
          const store = JSON.parse(found!.json) as { profiles?: Record<string, Credential> };
          return store.profiles?.[this.profileId];
        } finally {
          db.close();
        }
      } catch {
        return "invalid";
      }
    },
  },
];

async function eraRows(era: Era, syncs: number): Promise<Outcome> {
  const name = `${NAME}, ${era.format}`;
  const t = makeHome();
  installFakeClaude(t);
  const outputs: string[] = [];
  const expiryOf = new Map<string, number>();
  const write = () => {
    const cred = t.writeCredentials();
    expiryOf.set(cred.accessToken, cred.expiresAt);
    return cred;
  };
  const tokenIn = (agent: string) => {
    const ours = era.ours(t, agent);
    return typeof ours === "object" ? ours.token : undefined;
  };
  let d: DaemonProcess | undefined;
  let args: string[] = [];
  const start = async () => {
    d = new DaemonProcess(t, args);
    await d.waitForEvent("daemon.ready", 60_000);
    return d;
  };
  const caughtUp = (d: DaemonProcess, token: string) => {
    const seen = new Set<unknown>();
    return d.waitFor((r) => {
      if (r.event === "sync.written" && r.fingerprint === fingerprint(token)) seen.add(r.agent);
      return era.agents.every((a) => seen.has(a) || tokenIn(a) === token);
    }, STALE_MS + 30_000);
  };
  const temps = () =>
    (era.format === "sqlite" ? [] : era.agents).flatMap((a) =>
      readdirSync(t.agentDir(a))
        .filter((f) => TEMP_FILE.test(f))
        .map((f) => `${a}/${f}`),
    );
  const started = Date.now();
  let kills = 0;
  let torn = 0;
  let invalid = 0;
  let locksLeft = 0;
  let locksNamed = 0;
  const tempsLeft = new Set<string>();
  let worstRecoveryMs = 0;
  /** Restarts that found a lock the journal did not name: how long after it turned stale every agent caught up. */
  const afterStale: number[] = [];
  let missedByChance = 0;
  const stop = path.join(t.root, "stop-gateway");
  let gateway: ReturnType<typeof runWorker<{ done: number }>> | undefined;
  const leftLocks = () => era.agents.map((a) => era.lockPath?.(t, a)).filter((l): l is string => !!l && existsSync(l));
  /** Kills the daemon; with `holding`, only once it is seen holding a store lock (one try per sync). */
  const kill = async (holding: boolean) => {
    if (holding) {
      const until = Date.now() + 2_000;
      while (Date.now() < until && leftLocks().length === 0) await new Promise((r) => setImmediate(r));
    } else await sleep(Math.random() * 25);
    d!.child.kill("SIGKILL");
    await d!.exited;
    outputs.push(d!.stdout, d!.stderr);
    kills++;
  };
  /** After a kill: checks every store, restarts, and times the catch-up; `miss` makes the journal miss the locks. */
  const restart = async (token: string, miss: boolean) => {
    for (const agent of era.agents) {
      const profile = era.ours(t, agent);
      if (profile === "invalid") {
        invalid++;
        continue;
      }
      if (
        profile &&
        (!expiryOf.has(profile.token as string) || expiryOf.get(profile.token as string) !== profile.expires)
      )
        torn++;
    }
    for (const temp of temps()) tempsLeft.add(temp);
    const left = leftLocks();
    locksLeft += left.length;
    if (miss) {
      const aged = (Date.now() + AGED_STALE_IN_MS - STALE_MS) / 1000;
      for (const lock of left) {
        era.hideOwner!(t, lock);
        utimesSync(lock, aged, aged);
      }
    }
    const missed = left.filter((l) => !era.ownerShown!(t, l));
    locksNamed += left.length - missed.length;
    const staleAt = Math.max(...missed.map((l) => statSync(l).mtimeMs + STALE_MS));
    const restarted = Date.now();
    d = await start();
    await caughtUp(d, token);
    const now = Date.now();
    if (missed.length > 0) {
      if (!miss) missedByChance++;
      afterStale.push(now - staleAt);
    } else worstRecoveryMs = Math.max(worstRecoveryMs, now - restarted);
  };
  try {
    write();
    args = era.setup(t);
    if (era.format === "sqlite") {
      gateway = runWorker<{ done: number }>("gateway-writer.js", ["sqlite", stateDbPath(t), "gw", "locked", stop]);
    }
    d = await start();
    progress(`${name}: ${syncs} syncs, killing the daemon at random moments`);
    for (let i = 0; i < syncs; i++) {
      const cred = write();
      if (Math.random() < 0.25) {
        await kill(false);
        await restart(cred.accessToken, false);
      } else {
        await caughtUp(d, cred.accessToken);
      }
    }
    // The kill the journal misses on purpose: tried until one lands while a lock is held.
    for (let tries = 0; era.lockPath && afterStale.length === missedByChance && tries < 20; tries++) {
      const cred = write();
      await kill(true);
      await restart(cred.accessToken, leftLocks().length > 0);
    }
    await d.stop();
    outputs.push(d.stdout, d.stderr);
    // Temp files of killed writes are removed at the next start once they are 10 s old.
    if (tempsLeft.size > 0) await sleep(10_500);
    const last = write();
    d = await start();
    await caughtUp(d, last.accessToken);
    await d.stop();
    outputs.push(d.stdout, d.stderr);
    const minimum = era.format === "json-v1" ? 200 : 40;
    const rows: Row[] = [
      row(
        name,
        "syncs (kills)",
        `${syncs} (${kills})`,
        `≥ ${minimum} syncs`,
        syncs >= minimum || process.env.FAULTS_CRASH_SYNCS !== undefined,
      ),
      must(
        name,
        era.format === "sqlite" ? "databases not intact after a kill" : "stores not valid JSON after a kill",
        invalid,
        0,
      ),
      must(name, "stores with a mixed credential after a kill", torn, 0),
    ];
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    if (era.lockPath) {
      rows.push(row(name, "store locks left by a kill (shown to be ours)", `${locksLeft} (${locksNamed})`));
      // A kill lands between making a lock and showing it is ours only within a few system calls, or while the
      // process is preempted between them on a loaded runner (none to one a run); a journal or pid that did not
      // work would leave most of the locks left unattributed.
      const allowed = Math.max(1, Math.floor(kills / 10));
      rows.push(
        row(
          name,
          "kills that left a lock not shown to be ours, by chance",
          missedByChance,
          `≤ kills / 10 (${allowed})`,
          missedByChance <= allowed,
        ),
      );
    }
    // Before the journal note (and the sidecar's pid) was written in the same step as the lock, a kill left an
    // unattributable lock every few runs, and this one figure mixed those 30 s waits with the restarts (31.1 s
    // against a 32 s bound): now each has its own bound, with room for a loaded runner and still far from the
    // failure it is there to see.
    rows.push(
      row(
        name,
        "slowest restart until every agent caught up (no lock left that is not shown ours)",
        seconds(worstRecoveryMs),
        `< ${RESTART_BOUND_MS / 1000} s`,
        worstRecoveryMs < RESTART_BOUND_MS,
      ),
    );
    if (era.lockPath) {
      const worst = Math.max(...afterStale);
      rows.push(
        row(
          name,
          "a lock not shown ours: caught up after it turned stale",
          afterStale.length ? `${afterStale.length}, slowest ${seconds(worst)}` : "no kill landed in a lock",
          `≥ 1, < ${AFTER_STALE_BOUND_MS / 1000} s`,
          afterStale.length > 0 && worst < AFTER_STALE_BOUND_MS,
        ),
      );
    }
    if (era.format !== "sqlite") {
      const after = temps().length;
      rows.push(
        row(
          name,
          "temp files left by a kill (after the next start)",
          `${tempsLeft.size} (${after})`,
          "after = 0",
          after === 0,
        ),
      );
    }
    if (gateway) {
      writeFileSync(stop, "");
      const { done } = await gateway.done;
      gateway = undefined;
      const db = new Database(stateDbPath(t), { readonly: true });
      const state = db.prepare("SELECT value_json AS json FROM config_machine_state WHERE state_key = ?");
      const stats = JSON.parse((state.get("authProfiles.state") as { json: string }).json) as {
        usageStats?: Record<string, { counter?: number }>;
      };
      db.close();
      const lost = done - (stats.usageStats?.gw?.counter ?? 0);
      rows.push(must(name, `gateway writes lost (of ${done})`, lost, 0));
    }
    rows.push(
      must(
        name,
        "final store holds the last credential",
        String(era.agents.every((a) => tokenIn(a) === last.accessToken)),
        "true",
      ),
    );
    rows.push(row(name, "time taken", `${((Date.now() - started) / 1000).toFixed(1)} s`));
    return { rows, outputs, planted: [...expiryOf.keys()] };
  } finally {
    // A scenario that failed half-way must not leave its daemon or its gateway writer running.
    d?.child.kill("SIGKILL");
    if (gateway) {
      writeFileSync(stop, "");
      await gateway.done.catch(() => undefined);
    }
    t.cleanup();
  }
}

export async function crash(): Promise<Outcome> {
  const syncs = env("FAULTS_CRASH_SYNCS", 200);
  const outcome: Outcome = { rows: [], outputs: [], planted: [] };
  // Side by side, each in its own HOME; one format failing half-way is one failed row, the others still run.
  const eras = await Promise.all(
    ERAS.map((era) =>
      eraRows(era, era.format === "json-v1" ? syncs : Math.max(10, Math.round(syncs / 5))).catch(
        (err: unknown): Outcome => {
          const message = String(err instanceof Error ? err.message : err);
          process.stderr.write(`faults: ${NAME}, ${era.format} failed:\n${message}\n`);
          const first = message.split("\n")[0]!.slice(0, 300);
          return {
            rows: [row(`${NAME}, ${era.format}`, "scenario ran", first, "completes", false)],
            outputs: [],
            planted: [],
          };
        },
      ),
    ),
  );
  for (const one of eras) {
    outcome.rows.push(...one.rows);
    outcome.outputs.push(...one.outputs);
    outcome.planted.push(...one.planted);
  }
  return outcome;
}
