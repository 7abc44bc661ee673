/**
 * The SQLite generation's figures for `npm run bench` (OpenClaw 2026.9.6, what current gateways use), each beside
 * bench/sqlite-floor.ts run the same way in the same run, as `{ms, floorMs, ratio}`:
 *   setupTokenFanOut   `token set` then a timed `sync` (spawn to exit), at 1 and N agent databases
 *   cooldownClear      a timed `cooldown clear` (spawn to exit) over planted cooldowns, at 1 and N
 *   loginChange        the running daemon (config `credentialType: "token"`): an atomic rewrite of
 *                      ~/.claude/.credentials.json until every agent has logged `sync.written`, at N
 * The layout is a 2026.9.6 gateway's: `state/openclaw.sqlite` holding the shared store (marker `state-db`), and
 * `agents/<id>/agent/openclaw-agent.sqlite` for every agent, `main` and N−1 others listed under `agents.entries`.
 * Each agent but `main` holds its own copy of the profiles (as `paste-token --agent <id>` leaves them), so every
 * change is one write to each of N databases: the state database for `main`, its own database for each other
 * agent. (A profile only in the shared store is one write whatever the agent count.) At 1, the gateway has `main`
 * alone, whose auth lives in the state database.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { fingerprint } from "../src/core/fingerprint.js";
import { DaemonProcess } from "../test/helpers/daemon.js";
import { BIN, makeHome, randomToken, runCli, type TestHome } from "../test/helpers/env.js";
import { agentDbPath, entriesConfig, stateDbPath, writeAgentDb, writeStateDb } from "../test/helpers/sqlite-store.js";
import type { FloorChange, FloorJob, FloorTarget } from "./sqlite-floor.js";
import { round } from "./stats.js";

const FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), "sqlite-floor.js");
const SETUP_ID = "anthropic:manual";
const LOGIN_ID = "anthropic:login";
/** Schedules that never fire during a run: only the measured change makes a pass. */
const NEVER = "0 0 1 1 *";
/** The usage fields of a planted cooldown that `cooldown clear` removes (errorCount is set to 0). */
const COOLDOWN_FIELDS = ["cooldownUntil", "cooldownReason", "failureCounts"];

const progress = (msg: string) => process.stderr.write(`bench: sqlite: ${msg}\n`);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export interface Figure {
  n: number;
  ms: number;
  floorMs: number;
  ratio: number;
}
const figure = (runs: number[], floors: number[]): Figure => ({
  n: runs.length,
  ms: round(median(runs)),
  floorMs: round(median(floors)),
  ratio: Math.round((median(runs) / median(floors)) * 100) / 100,
});

const token = (secret: string, expires?: number) => ({
  type: "token",
  provider: "anthropic",
  token: secret,
  ...(expires ? { expires } : {}),
});

interface Gateway {
  t: TestHome;
  ids: string[];
  /** The auth rows a change writes, one per agent: `main`'s in the state database, the others' in their own. */
  rows: (role: "store" | "state") => FloorTarget[];
}

/** A 2026.9.6 state dir with `agents` agents, each holding `profiles` where it reads them (see the top). */
function gateway(agents: number, profiles: Record<string, unknown>): Gateway {
  const t = makeHome();
  const ids = ["main", ...Array.from({ length: agents - 1 }, (_, i) => `agent-${String(i + 1).padStart(4, "0")}`)];
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ids), null, 2));
  const store = { version: 1, profiles };
  const state = { version: 1, usageStats: {} };
  writeStateDb(t, { store, state });
  // main's own database exists (sessions live there) but holds no auth: its auth is the shared store.
  writeAgentDb(t, "main");
  for (const id of ids.slice(1)) writeAgentDb(t, id, { store, state });
  const rows = (role: "store" | "state"): FloorTarget[] =>
    ids.map((agent) =>
      agent === "main"
        ? {
            agent,
            file: stateDbPath(t),
            table: "config_machine_state",
            keyColumn: "state_key",
            key: role === "store" ? "authProfiles.store" : "authProfiles.state",
            jsonColumn: "value_json",
            timeColumn: "updated_at_ms",
          }
        : {
            agent,
            file: agentDbPath(t, agent),
            table: role === "store" ? "auth_profile_store" : "auth_profile_state",
            keyColumn: role === "store" ? "store_key" : "state_key",
            key: "primary",
            jsonColumn: role === "store" ? "store_json" : "state_json",
            timeColumn: "updated_at",
          },
    );
  return { t, ids, rows };
}

/** Wall time of one process from spawn to exit; it must exit 0. */
async function timed(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  child.stdin.end(input ?? "");
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`${args.slice(1).join(" ")} exited ${code}: ${output.slice(-2000)}`);
  return ms;
}

/** The floor's pass over `targets`, as its own process (spawn to exit), like the CLI it stands beside. */
function floorPass(g: Gateway, targets: FloorTarget[], change: FloorChange): Promise<number> {
  const job = path.join(g.t.root, "floor-job.json");
  writeFileSync(job, JSON.stringify({ targets, change } satisfies FloorJob));
  return timed([FLOOR, "update", job], g.t.env);
}

/** A `rate_limit` cooldown on `SETUP_ID` in every agent's state row, as the gateway's marking leaves it. */
function plantCooldowns(g: Gateway): void {
  const now = Date.now();
  const stats = {
    [SETUP_ID]: {
      lastUsed: now - 60_000,
      cooldownUntil: now + 3_600_000,
      cooldownReason: "rate_limit",
      failureCounts: { rate_limit: 1 },
      errorCount: 1,
      lastFailureAt: now - 1_000,
    },
  };
  const value = JSON.stringify({ version: 1, usageStats: stats });
  for (const row of g.rows("state")) {
    const db = new Database(row.file, { fileMustExist: true });
    try {
      const sql = `UPDATE ${row.table} SET ${row.jsonColumn} = ?, ${row.timeColumn} = ? WHERE ${row.keyColumn} = ?`;
      db.prepare(sql).run(value, now, row.key);
    } finally {
      db.close();
    }
  }
}

/** The JSON of `row`, to check that a timed run did write every database (the last one written is checked). */
function cell(row: FloorTarget): Record<string, any> {
  const db = new Database(row.file, { readonly: true, fileMustExist: true });
  try {
    const sql = `SELECT ${row.jsonColumn} AS json FROM ${row.table} WHERE ${row.keyColumn} = ?`;
    return JSON.parse((db.prepare(sql).get(row.key) as { json: string }).json) as Record<string, any>;
  } finally {
    db.close();
  }
}
const lastRow = (g: Gateway, role: "store" | "state") => g.rows(role).at(-1)!;
function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench: ${what}`);
}

/** `sync` after `token set` (a new setup-token each run) and `cooldown clear`, each beside the floor's pass. */
async function cliFigures(agents: number, runs: number) {
  const g = gateway(agents, { [SETUP_ID]: token(randomToken()) });
  try {
    g.t.writeCredentials();
    const sync: number[] = [];
    const syncFloor: number[] = [];
    for (let i = 0; i < runs; i++) {
      progress(`${agents} agent database(s): setup-token fan-out, run ${i + 1} of ${runs}`);
      const setup = randomToken();
      // The planted token, and the floor's of the run before, are not ours: replaced as the user says so.
      const args = ["token", "set", "--profile", SETUP_ID, "--replace"];
      const set = await runCli(args, g.t.env, { input: setup });
      if (set.code !== 0) throw new Error(`token set failed: ${set.stdout}${set.stderr}`);
      sync.push(await timed([BIN, "sync"], g.t.env));
      expect(cell(lastRow(g, "store")).profiles[SETUP_ID].token === setup, "sync did not write the setup-token");
      const value = token(randomToken(), Date.now() + 1e9);
      syncFloor.push(await floorPass(g, g.rows("store"), { kind: "profile", id: SETUP_ID, value }));
      expect(cell(lastRow(g, "store")).profiles[SETUP_ID].token === value.token, "the floor did not write");
    }
    const clear: number[] = [];
    const clearFloor: number[] = [];
    for (let i = 0; i < runs; i++) {
      progress(`${agents} agent database(s): cooldown clear, run ${i + 1} of ${runs}`);
      plantCooldowns(g);
      clear.push(await timed([BIN, "cooldown", "clear"], g.t.env));
      const cleared = () => cell(lastRow(g, "state")).usageStats[SETUP_ID].cooldownUntil === undefined;
      expect(cleared(), "cooldown clear left the cooldown");
      plantCooldowns(g);
      clearFloor.push(await floorPass(g, g.rows("state"), { kind: "clear", id: SETUP_ID, fields: COOLDOWN_FIELDS }));
      expect(cleared(), "the floor left the cooldown");
    }
    return { setupTokenFanOut: figure(sync, syncFloor), cooldownClear: figure(clear, clearFloor) };
  } finally {
    g.t.cleanup();
  }
}

/** ms from an atomic rewrite of the login until every agent has logged `sync.written` for its new token. */
async function loginLatencies(d: DaemonProcess, g: Gateway, count: number, what: string): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    progress(`${g.ids.length} agents: login change, ${what}, ${i + 1} of ${count}`);
    const from = d.records.length;
    const started = performance.now();
    const fp = fingerprint(g.t.writeCredentials().accessToken);
    const seen = new Set<unknown>();
    await d.waitFor(
      (r) => {
        if (r.event === "sync.written" && r.fingerprint === fp) seen.add(r.agent);
        return seen.size >= g.ids.length;
      },
      600_000,
      from,
    );
    latencies.push(performance.now() - started);
    await sleep(500);
  }
  return latencies;
}

/** The daemon with `credentialType: "token"` copying login changes, beside the floor watching the same file. */
async function loginFigure(agents: number, rotations: number): Promise<Figure> {
  const cred = { accessToken: randomToken(), expiresAt: Date.now() + 8 * 3_600_000 };
  const g = gateway(agents, { [SETUP_ID]: token(randomToken()), [LOGIN_ID]: token(cred.accessToken, cred.expiresAt) });
  try {
    g.t.writeCredentials(cred);
    const config = path.join(g.t.root, "config.json");
    const settings = { profileId: LOGIN_ID, credentialType: "token", resyncCron: NEVER, refreshCheckCron: NEVER };
    writeFileSync(config, JSON.stringify(settings));
    progress(`${agents} agents: starting the daemon`);
    const d = new DaemonProcess(g.t, ["--config", config]);
    let daemon: number[];
    try {
      await d.waitForEvent("daemon.ready", 600_000);
      // The pass after the watches are armed, and the events of our own reads, are over before the first change.
      await sleep(1_000);
      daemon = await loginLatencies(d, g, rotations, "the daemon");
    } finally {
      await d.stop();
    }
    const job = path.join(g.t.root, "floor-job.json");
    writeFileSync(job, JSON.stringify({ targets: g.rows("store"), change: { kind: "profile", id: LOGIN_ID } }));
    const credentials = path.join(g.t.claudeDir, ".credentials.json");
    const floor = new DaemonProcess(g.t, ["watch", job, credentials], { script: FLOOR });
    let floors: number[];
    try {
      await floor.waitForEvent("daemon.ready", 30_000);
      floors = await loginLatencies(floor, g, rotations, "the floor");
    } finally {
      await floor.stop();
    }
    return figure(daemon, floors);
  } finally {
    g.t.cleanup();
  }
}

export interface SqliteOptions {
  /** Agent databases of the large figures; 0 runs only the 1-database ones. */
  agents: number;
  /** Runs of each CLI figure (median quoted). */
  runs: number;
  /** Login changes at `agents` (median quoted); 0 skips the figure. */
  rotations: number;
}

export async function sqliteFigures(options: SqliteOptions) {
  const one = await cliFigures(1, options.runs);
  const large = options.agents > 1 ? await cliFigures(options.agents, options.runs) : undefined;
  const login =
    options.agents > 1 && options.rotations > 0 ? await loginFigure(options.agents, options.rotations) : undefined;
  const within = (f: Figure) => ({ value: f.ratio, target: 2, ok: f.ratio <= 2 });
  return {
    layout:
      "state/openclaw.sqlite (shared store) + agents/<id>/agent/openclaw-agent.sqlite per agent; every agent but " +
      "main holds its own copy of the profile, so each change is one write per agent database",
    floor: "per database: open, BEGIN IMMEDIATE, one UPDATE of the auth row (json_set/json_remove), COMMIT, close",
    oneDatabase: one,
    ...(large ? { large: { databases: options.agents, ...large } } : {}),
    ...(login ? { loginChange: { agents: options.agents, ...login } } : {}),
    targets: {
      oneSetupTokenFanOut: within(one.setupTokenFanOut),
      oneCooldownClear: within(one.cooldownClear),
      ...(large
        ? { largeSetupTokenFanOut: within(large.setupTokenFanOut), largeCooldownClear: within(large.cooldownClear) }
        : {}),
      ...(login ? { largeLoginChange: within(login) } : {}),
    },
  };
}
