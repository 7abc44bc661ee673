/**
 * Scenario 3, hostile inputs: broken credentials files and odd stores, one case each, under a daemon whose
 * schedules tick every second. The daemon must keep running, leave each store untouched or correctly
 * written, and log each distinct problem once, not on every tick.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { DaemonProcess, installFakeClaude } from "../test/helpers/daemon.js";
import { makeHome, randomToken, runCli, type RunResult, type TestHome } from "../test/helpers/env.js";
import {
  agentDbPath,
  entriesConfig,
  readAgentCells,
  stateDbPath,
  writeAgentDb,
  writeStateDb,
} from "../test/helpers/sqlite-store.js";
import { type Outcome, type Row, row, runCases, sleep } from "./harness.js";

const ID = "anthropic:claude-cli";
const NAME = "3 hostile inputs";
const TICKS = { resyncCron: "* * * * * *", refreshCheckCron: "* * * * * *" };
const asRoot = process.getuid?.() === 0;

interface Case {
  name: string;
  /** Makes the hostile input; the home already holds a valid login and a store with our profile. */
  make(t: TestHome): void;
  /** The event that must appear exactly once, or undefined when the input is fine. */
  event?: string;
  /** Checks the stores afterwards; returns a problem, or undefined. */
  check?(t: TestHome, before: string): string | undefined;
  /** Run the daemon as nobody, so that a 0000 file is really unreadable. */
  unprivileged?: boolean;
  /** Config settings on top of the fast ticks. */
  config?: Record<string, unknown>;
}

const credentials = (t: TestHome) => path.join(t.claudeDir, ".credentials.json");
const replaceCredentials = (t: TestHome, content: string | Buffer) => writeFileSync(credentials(t), content);
const loginToken = (t: TestHome) => JSON.parse(readFileSync(credentials(t), "utf8")).claudeAiOauth.accessToken;
const victim = (t: TestHome) => path.join(t.root, "victim.json");

const CASES: Case[] = [
  { name: "credentials empty", make: (t) => replaceCredentials(t, ""), event: "source.invalid" },
  {
    name: "credentials truncated",
    make: (t) => replaceCredentials(t, readFileSync(credentials(t), "utf8").slice(0, 40)),
    event: "source.invalid",
  },
  { name: "credentials not JSON", make: (t) => replaceCredentials(t, "this is not json\n"), event: "source.invalid" },
  {
    name: "credentials wrong types",
    make: (t) => replaceCredentials(t, JSON.stringify({ claudeAiOauth: { accessToken: 42, expiresAt: "soon" } })),
    event: "source.invalid",
  },
  {
    name: "credentials 10 MB of garbage",
    make: (t) => replaceCredentials(t, Buffer.alloc(10 * 1024 * 1024, 0x7b)),
    event: "source.invalid",
  },
  {
    name: "credentials a FIFO",
    make: (t) => {
      execFileSync("rm", ["-f", credentials(t)]);
      execFileSync("mkfifo", [credentials(t)]);
    },
    event: "source.invalid",
  },
  {
    name: "credentials a symlink loop",
    make: (t) => {
      execFileSync("rm", ["-f", credentials(t)]);
      symlinkSync(credentials(t), credentials(t));
    },
    event: "source.invalid",
  },
  {
    name: "credentials unreadable (0000)",
    make: (t) => chmodSync(credentials(t), 0o000),
    event: "source.invalid",
    unprivileged: true,
  },
  {
    name: "credentials expiresAt in seconds",
    make: (t) =>
      replaceCredentials(
        t,
        JSON.stringify({
          claudeAiOauth: { accessToken: randomToken(), expiresAt: Math.floor(Date.now() / 1000) + 3600 },
        }),
      ),
    event: "source.invalid",
  },
  {
    name: "store a symlink inside the state dir",
    make: (t) => {
      const real = path.join(t.stateDir, "real-store.json");
      writeFileSync(real, readFileSync(t.storePath("main")));
      execFileSync("rm", [t.storePath("main")]);
      symlinkSync(real, t.storePath("main"));
      t.writeCredentials();
    },
    check: (t) => {
      if (!lstatSync(t.storePath("main")).isSymbolicLink()) return "the symlink was replaced";
      const real = path.join(t.stateDir, "real-store.json");
      const synced = JSON.parse(readFileSync(real, "utf8")).profiles[ID]?.token === loginToken(t);
      return synced ? undefined : "the link's target was not synced";
    },
  },
  {
    name: "store a symlink to outside the state dir",
    make: (t) => {
      writeFileSync(victim(t), readFileSync(t.storePath("main")), { mode: 0o644 });
      execFileSync("rm", [t.storePath("main")]);
      symlinkSync(victim(t), t.storePath("main"));
      t.writeCredentials();
    },
    event: "store.unwritable",
    check: (t, before) => {
      const kept = readFileSync(victim(t), "utf8") === before && (statSync(victim(t)).mode & 0o777) === 0o644;
      return kept ? undefined : "the link's target was changed";
    },
  },
  {
    name: "symlinks planted at temp-file names",
    make: (t) => {
      writeFileSync(victim(t), "precious\n");
      for (const name of ["auth-profiles.json.0", "auth-profiles.json.1", `auth-profiles.json.${"0".repeat(16)}.tmp`]) {
        symlinkSync(victim(t), path.join(t.agentDir("main"), name));
      }
      t.writeCredentials();
    },
    check: (t) => {
      if (readFileSync(victim(t), "utf8") !== "precious\n") return "a planted link was followed";
      return t.readStore("main").profiles[ID]?.token === loginToken(t) ? undefined : "not synced";
    },
  },
  {
    name: "gateway config a FIFO",
    make: (t) => {
      execFileSync("mkfifo", [path.join(t.stateDir, "openclaw.json")]);
      t.writeCredentials();
    },
    event: "gateway_config.invalid",
    check: (t) => (t.readStore("main").profiles[ID]?.token === loginToken(t) ? undefined : "agents on disk not synced"),
  },
  {
    name: "gateway config /dev/zero",
    make: (t) => {
      symlinkSync("/dev/zero", path.join(t.stateDir, "openclaw.json"));
      t.writeCredentials();
    },
    event: "gateway_config.invalid",
    check: (t) => (t.readStore("main").profiles[ID]?.token === loginToken(t) ? undefined : "agents on disk not synced"),
  },
  {
    name: "sidecar lock a FIFO (split store)",
    make: (t) => {
      writeFileSync(path.join(t.agentDir("main"), "auth-state.json"), JSON.stringify({ version: 1 }));
      execFileSync("mkfifo", [`${t.storePath("main")}.lock`]);
      t.writeCredentials();
    },
    config: { lockTimeout: "1s" },
    event: "store.locked",
  },
  {
    name: "agent ids with ../ and /",
    make: (t) => {
      const list = [{ id: "main" }, { id: "../../../escaped" }, { id: "a/b" }, { id: "../.." }];
      const rel = { id: "rel", agentDir: "rel/agent" };
      writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify({ agents: { list: [...list, rel] } }));
      t.writeCredentials();
    },
    event: "gateway_config.invalid",
    check: (t) => {
      const outside = [t.root, t.home, t.stateDir].map((dir) => path.join(dir, "escaped"));
      outside.push(path.join(t.stateDir, "agents", "a"));
      if (outside.some((p) => existsSync(p))) return "a folder was made outside <state>/agents/<id>";
      const synced = ["main", "escaped", "a-b"].every((id) => t.readStore(id).profiles[ID]?.token === loginToken(t));
      return synced ? undefined : "the normalised agents were not synced";
    },
  },
  {
    name: "credentials expiresAt 9e15",
    make: (t) => {
      const forged = { accessToken: randomToken(), refreshToken: randomToken("ort"), expiresAt: 9e15 };
      replaceCredentials(t, JSON.stringify({ claudeAiOauth: forged }));
    },
    event: "source.invalid",
    check: (t, before) => {
      const kept = JSON.stringify(t.readStore("main").profiles[ID]) === JSON.stringify(JSON.parse(before).profiles[ID]);
      return kept ? undefined : "the forged credential reached the store";
    },
  },
  {
    name: "our profile id holds an openai credential",
    make: (t) => {
      const openai = { type: "token", provider: "openai", token: randomToken() };
      t.writeStore("main", { version: 1, profiles: { [ID]: openai } });
      t.writeCredentials();
    },
    event: "sync.skipped",
    check: (t, before) => {
      const kept = readFileSync(t.storePath("main"), "utf8") === before;
      return kept ? undefined : "the other provider's credential was overwritten";
    },
  },
  {
    name: "store with BOM and CRLF",
    make: (t) => {
      const text = readFileSync(t.storePath("main"), "utf8").replace(/\n/g, "\r\n");
      writeFileSync(t.storePath("main"), `\uFEFF${text}`);
      t.writeCredentials();
    },
    check: (t) => {
      const text = readFileSync(t.storePath("main"), "utf8");
      const token = JSON.parse(readFileSync(credentials(t), "utf8")).claudeAiOauth.accessToken;
      return JSON.parse(text).profiles[ID]?.token === token && !text.startsWith("\uFEFF")
        ? undefined
        : "not rewritten cleanly";
    },
  },
  {
    name: "store with unknown fields",
    make: (t) => {
      const store = t.readStore("main");
      store.futureTopLevel = { nested: [1, { deep: true }] };
      store.profiles["anthropic:manual"] = {
        type: "token",
        provider: "anthropic",
        token: randomToken(),
        futureField: "kept",
      };
      t.writeStore("main", store);
      t.writeCredentials();
    },
    check: (t, before) => {
      const was = JSON.parse(before);
      const now = t.readStore("main");
      delete was.profiles[ID];
      delete now.profiles[ID];
      return JSON.stringify(was) === JSON.stringify(now) ? undefined : "unknown fields changed";
    },
  },
];

async function runCase(c: Case, outputs: string[], planted: string[]): Promise<Row> {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const cred = t.writeCredentials();
    t.writeStore("main", {
      version: 1,
      profiles: { [ID]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt } },
    });
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ ...TICKS, ...c.config }));
    c.make(t);
    const before = readFileSync(t.storePath("main"), "utf8");
    let options = {};
    if (c.unprivileged && asRoot) {
      // Root reads a 0000 file anyway: the daemon runs as nobody over a tree nobody owns.
      mkdirSync(t.env.XDG_STATE_HOME!, { recursive: true });
      execFileSync("chown", ["-R", "65534:65534", t.root]);
      chmodSync(credentials(t), 0o000);
      options = { uid: 65534, gid: 65534 };
    }
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")], options);
    try {
      await d.waitForEvent("daemon.ready", 20_000);
      await sleep(3_500);
      const alive = d.child.exitCode === null && d.child.signalCode === null;
      const count = c.event ? d.events(c.event).length : 0;
      let valid = true;
      try {
        JSON.parse(readFileSync(t.storePath("main"), "utf8").replace(/^\uFEFF/, ""));
      } catch {
        valid = false;
      }
      const problem = c.check?.(t, before);
      const ok = alive && valid && !problem && (c.event ? count === 1 : true);
      const value = [
        alive ? "running" : "DIED",
        valid ? "store valid" : "STORE INVALID",
        ...(c.event ? [`${c.event} ×${count}`] : []),
        ...(problem ? [problem] : []),
      ].join(", ");
      return row(NAME, c.name, value, c.event ? `running, store valid, ${c.event} ×1` : "running, store correct", ok);
    } finally {
      await d.stop();
      outputs.push(d.stdout, d.stderr);
      planted.push(...t.planted);
    }
  } finally {
    t.cleanup();
  }
}

/**
 * A SQLite-era state database whose auth table has BEFORE INSERT/UPDATE triggers that cross-join thousands of
 * rows, beside a healthy JSON-era gateway: the daemon must come up, rotate the JSON gateway, and stop in time.
 */
export async function triggerBesideJson(outputs: string[], planted: string[]): Promise<Row> {
  const MINE = "anthropic:login";
  const t = makeHome();
  const json = makeHome();
  try {
    installFakeClaude(t);
    const cred = t.writeCredentials();
    const old = { type: "token", provider: "anthropic", token: randomToken(), expires: cred.expiresAt };
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
    writeStateDb(t, { store: { version: 1, profiles: { [MINE]: old } } });
    const db = new Database(stateDbPath(t));
    db.exec("CREATE TABLE big (n INTEGER)");
    db.exec(
      "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000) INSERT INTO big SELECT n FROM c",
    );
    for (const when of ["INSERT", "UPDATE"]) {
      const loop = "SELECT count(*) FROM big a, big b, big c";
      db.exec(`CREATE TRIGGER slow_${when} BEFORE ${when} ON config_machine_state BEGIN ${loop}; END`);
    }
    db.close();
    json.writeStore("main", { version: 1, profiles: { [MINE]: old } });
    const config = { ...TICKS, profileId: MINE, credentialType: "token", stateDirs: [t.stateDir, json.stateDir] };
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify(config));
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    const seen: string[] = [];
    let stopMs = Number.NaN;
    try {
      const ready = await d.waitForEvent("daemon.ready", 30_000).then(
        () => true,
        () => false,
      );
      seen.push(ready ? "ready" : "NO daemon.ready");
      const next = t.writeCredentials();
      const rotated = await d
        .waitFor(() => json.readStore("main").profiles[MINE]?.token === next.accessToken, 30_000)
        .then(
          () => true,
          () => json.readStore("main").profiles[MINE]?.token === next.accessToken,
        );
      seen.push(rotated ? "JSON gateway rotated" : "JSON gateway NOT rotated");
      const started = Date.now();
      const exit = await Promise.race([d.stop(), sleep(20_000).then(() => undefined)]);
      stopMs = Date.now() - started;
      seen.push(exit ? `stopped in ${stopMs} ms (${exit.signal ?? `exit ${exit.code}`})` : "NOT stopped in 20 s");
      if (!exit) d.child.kill("SIGKILL");
      const ok = ready && rotated && exit?.code === 0 && stopMs < 4_500;
      return row(
        NAME,
        "SQLite triggers beside a JSON gateway",
        seen.join(", "),
        "ready, rotated, exit 0 < 4500 ms",
        ok,
      );
    } finally {
      if (d.child.exitCode === null) d.child.kill("SIGKILL");
      outputs.push(d.stdout, d.stderr);
      planted.push(...t.planted, ...json.planted);
    }
  } finally {
    t.cleanup();
    json.cleanup();
  }
}

/**
 * A 12 KB state database whose auth table has a NOT NULL generated column of 500 MB, computed on every write of a
 * row: `status` and `sync` must refuse it in one line without computing it, and stay small.
 */
export async function generatedColumn(outputs: string[], planted: string[]): Promise<Row> {
  const t = makeHome();
  try {
    installFakeClaude(t);
    t.writeCredentials();
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
    const file = stateDbPath(t);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    const big = "printf('%.*c', 500000000, 'x')";
    db.exec(
      "CREATE TABLE config_machine_state (state_key TEXT NOT NULL PRIMARY KEY, value_json TEXT NOT NULL, " +
        `updated_at_ms INTEGER NOT NULL, pad TEXT GENERATED ALWAYS AS (${big}) VIRTUAL NOT NULL)`,
    );
    db.prepare("INSERT INTO config_machine_state (state_key, value_json, updated_at_ms) VALUES (?, ?, ?)").run(
      "auth.sharedStore",
      JSON.stringify({ location: "state-db" }),
      Date.now(),
    );
    db.pragma("user_version = 18");
    db.close();
    // The SQLite era syncs the login's access token into a token profile only when asked to (profileId).
    const config = path.join(t.root, "config.json");
    writeFileSync(config, JSON.stringify({ profileId: "anthropic:login", credentialType: "token" }));
    const kb = statSync(file).size / 1024;
    const seen: string[] = [];
    let ok = true;
    for (const command of ["status", "sync"]) {
      // GNU time's %M: the largest resident set of the CLI and of the SQLite child it waited for, in KB.
      const result = await runTimed([command, "--config", config], t.env);
      outputs.push(result.stdout, result.stderr);
      const mb = Math.round(result.maxRssKb / 1024);
      const said = `${result.stdout}${result.stderr}`.split("\n").filter((l) => /generated/i.test(l)).length;
      seen.push(`${command}: exit ${result.code}, ${mb} MB, ${said} line(s) naming it`);
      ok &&= result.code !== 0 && said >= 1 && mb < 300;
    }
    return row(
      NAME,
      `a ${Math.round(kb)} KB state database with a 500 MB generated column (status, sync)`,
      seen.join("; "),
      "refused, named in its output, under 300 MB",
      ok,
    );
  } finally {
    planted.push(...t.planted);
    t.cleanup();
  }
}

/** The CLI under GNU time: its exit, output, and the largest resident set among it and its waited-for children. */
async function runTimed(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult & { maxRssKb: number }> {
  const result = await runCli(args, env, { under: ["/usr/bin/time", "-f", "maxrss=%M"], timeoutMs: 120_000 });
  const maxRssKb = Number(/maxrss=(\d+)\s*$/.exec(result.stderr)?.[1] ?? Number.NaN);
  return { ...result, stderr: result.stderr.replace(/maxrss=\d+\s*$/, ""), maxRssKb };
}

/** Prometheus's own scrape timeout: /healthz reads every store, which takes seconds on a loaded machine. */
const SCRAPE_TIMEOUT_MS = 10_000;

/** GET /healthz with a deadline: true when it answered (503 while an agent fails is an answer). */
async function healthy(port: number, timeoutMs = 3_000): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200 || res.status === 503;
  } catch {
    return false;
  }
}

/**
 * FIFOs swapped in for four agent databases again and again while the daemon syncs them: every scrape is
 * answered within Prometheus's scrape timeout meanwhile (from the last status, when the stores hold the reader),
 * and once the swapping stops the next pass serves the agents.
 */
export async function fifoSwaps(outputs: string[], planted: string[]): Promise<Row> {
  const MINE = "anthropic:login";
  const ids = ["a", "b", "c", "d"];
  const t = makeHome();
  try {
    installFakeClaude(t);
    const cred = t.writeCredentials();
    const old = { type: "token", provider: "anthropic", token: randomToken(), expires: cred.expiresAt };
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main", ...ids])));
    writeStateDb(t, { store: { version: 1, profiles: {} } });
    for (const id of ids) writeAgentDb(t, id, { store: { version: 1, profiles: { [MINE]: old } } });
    const metrics = { listen: "127.0.0.1:0" };
    const config = { ...TICKS, profileId: MINE, credentialType: "token", metrics };
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify(config));
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    const seen: string[] = [];
    try {
      const port = Number((await d.waitForEvent("metrics.listening", 30_000)).port);
      await d.waitForEvent("daemon.ready", 30_000);
      let swapping = true;
      const swapper = (async () => {
        for (let round = 0; swapping && round < 40; round++) {
          for (const id of ids) {
            renameSync(agentDbPath(t, id), `${agentDbPath(t, id)}.real`);
            execFileSync("mkfifo", [agentDbPath(t, id)]);
          }
          await sleep(150);
          for (const id of ids) {
            rmSync(agentDbPath(t, id));
            renameSync(`${agentDbPath(t, id)}.real`, agentDbPath(t, id));
          }
          await sleep(50);
        }
      })();
      let failed = 0;
      let slowest = 0;
      for (let i = 0; i < 8; i++) {
        const asked = Date.now();
        if (!(await healthy(port, SCRAPE_TIMEOUT_MS))) failed++;
        slowest = Math.max(slowest, Date.now() - asked);
        await sleep(500);
      }
      swapping = false;
      await swapper;
      seen.push(`${failed}/8 scrapes unanswered while swapping (slowest ${(slowest / 1000).toFixed(1)} s)`);
      const next = t.writeCredentials();
      const served = () =>
        ids.every(
          (id) =>
            (readAgentCells(t, id).store?.profiles as Record<string, { token?: string }> | undefined)?.[MINE]?.token ===
            next.accessToken,
        );
      // A child stuck on a FIFO is abandoned at its 15 s deadline; a loaded machine may meet a few in a row.
      const ok = await d.waitFor(served, 90_000).then(() => true, served);
      seen.push(ok ? "agents served after" : "agents NOT served after");
      let alive = false;
      for (let i = 0; i < 5 && !alive; i++) alive = await healthy(port, SCRAPE_TIMEOUT_MS);
      seen.push(alive ? "healthz answers after" : "healthz dead at the end");
      return row(
        NAME,
        "FIFOs swapped for 4 agent databases",
        seen.join(", "),
        "0/8 unanswered while swapping, served after, healthz answers after",
        failed === 0 && ok && alive,
      );
    } finally {
      const exit = await Promise.race([d.stop(), sleep(10_000).then(() => undefined)]);
      if (!exit) d.child.kill("SIGKILL");
      outputs.push(d.stdout, d.stderr);
      planted.push(...t.planted);
    }
  } finally {
    t.cleanup();
  }
}

export async function hostileInputs(): Promise<Outcome> {
  const outcome = await runCases(CASES, runCase);
  outcome.rows.push(await triggerBesideJson(outcome.outputs, outcome.planted));
  outcome.rows.push(await fifoSwaps(outcome.outputs, outcome.planted));
  outcome.rows.push(await generatedColumn(outcome.outputs, outcome.planted));
  return outcome;
}
