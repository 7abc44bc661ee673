/**
 * Fleet mode end to end (docs/fleet.md): a real three-member etcd cluster on loopback, three real daemons, each
 * with its own HOME and gateway (a, the JSON era; b, the SQLite era; c, the JSON era), a and b holding the Claude
 * login, and a fake `claude` whose token endpoint is shared by all of them (fake-claude.ts, mode `server`): a
 * refresh with a spent or unknown refresh token fails and is recorded, so "no host is ever logged out" is checked
 * by the endpoint itself, not inferred.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { type TestHome, leakedTokens, makeHome, randomToken, runCli } from "../helpers/env.js";
import { type EtcdCluster, startEtcdCluster } from "../helpers/etcd.js";
import { entriesConfig, readStateCells, writeStateDb } from "../helpers/sqlite-store.js";

/** The SQLite era retired anthropic:claude-cli; every host names the login alike, as docs/fleet.md asks. */
const LOGIN = "anthropic:login";
const SETUP = "anthropic:manual";

interface Host {
  name: string;
  t: TestHome;
  control: string;
  config: string;
  sqlite: boolean;
  daemon?: DaemonProcess;
}

let cluster: EtcdCluster;
let root: TestHome;
let server: string;

before(async () => {
  cluster = await startEtcdCluster();
  root = makeHome();
  server = path.join(root.root, "token-endpoint");
  for (const sub of ["issued", "redeemed"]) mkdirSync(path.join(server, sub), { recursive: true });
  writeFileSync(path.join(root.root, "fleet.key"), randomBytes(32).toString("base64"), { mode: 0o600 });
  writeFileSync(path.join(root.root, "login.key"), randomBytes(32).toString("base64"), { mode: 0o600 });
});

after(async () => {
  await cluster?.close();
  root?.cleanup();
});

interface HostOptions {
  sqlite: boolean;
  /** The login its claude holds (it then holds the login key too); none: it follows only. */
  login?: { accessToken: string; refreshToken: string; expiresAt: number };
  /** The etcd members it reaches (all by default). */
  endpoints?: string[];
  /** More config. */
  config?: Record<string, unknown>;
}

/** A host: its HOME, its gateway, its fake claude on the shared endpoint, its config. */
function makeHost(name: string, prefix: string, options: HostOptions): Host {
  const t = makeHome();
  const control = installFakeClaude(t, "server");
  writeFileSync(path.join(control, "server"), server);
  writeFileSync(path.join(control, "host"), name);
  if (options.login) t.writeCredentials(options.login);
  if (options.sqlite) {
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(entriesConfig(t, ["main"])));
    writeStateDb(t, { store: { version: 1, profiles: {} }, state: { version: 1, usageStats: {} } });
  } else mkdirSync(t.agentDir("main"), { recursive: true });
  const fleet = {
    etcd: { endpoints: options.endpoints ?? cluster.endpoints },
    prefix,
    keyFile: path.join(root.root, "fleet.key"),
    ...(options.login ? { loginKeyFile: path.join(root.root, "login.key") } : {}),
    host: name,
    leaseTime: "5s",
  };
  const config = path.join(t.root, "config.json");
  const body = { logLevel: "debug", profileId: LOGIN, credentialType: "token", fleet, ...options.config };
  writeFileSync(config, JSON.stringify(body));
  return { name, t, control, config, sqlite: options.sqlite };
}

function start(host: Host): DaemonProcess {
  host.daemon = new DaemonProcess(host.t, ["--config", host.config]);
  return host.daemon;
}

/** The access token the host's gateway holds for the login's profile (or a setup-token's). */
function held(host: Host, profile = LOGIN): string | undefined {
  if (host.sqlite) {
    const store = readStateCells(host.t).store as { profiles?: Record<string, { token?: string }> } | undefined;
    return store?.profiles?.[profile]?.token;
  }
  try {
    return host.t.readStore("main").profiles?.[profile]?.token;
  } catch {
    return undefined;
  }
}

/** Waits, by the host's own log, until its gateway holds `token` under `profile`. */
async function waitHeld(host: Host, token: string, profile = LOGIN, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let from = 0;
  while (held(host, profile) !== token) {
    if (Date.now() > deadline) {
      const log = host.daemon!.records.filter((r) => r.level !== "debug" || r.event.startsWith("sync"));
      assert.fail(
        `${host.name} never held the token under ${profile}:\n${log.map((r) => JSON.stringify(r)).join("\n")}`,
      );
    }
    const next = host.daemon!.records.length;
    await host
      .daemon!.waitFor((r) => r.event === "sync.done", Math.max(1, deadline - Date.now()), from)
      .catch(() => undefined);
    from = next;
  }
}

/** The token endpoint's record of refreshes: per host, [start, end] pairs, and any refusal. */
function endpointRuns(): { runs: Array<{ host: string; start: number; end: number }>; violations: string } {
  const open = new Map<string, number>();
  const runs: Array<{ host: string; start: number; end: number }> = [];
  let text = "";
  try {
    text = readFileSync(path.join(server, "runs.log"), "utf8");
  } catch {
    // none yet
  }
  for (const line of text.trim().split("\n").filter(Boolean)) {
    const [host, what, at] = line.split(" ");
    if (what === "start") open.set(host!, Number(at));
    else runs.push({ host: host!, start: open.get(host!)!, end: Number(at) });
  }
  let violations = "";
  try {
    violations = readFileSync(path.join(server, "violations.log"), "utf8");
  } catch {
    // none: the point
  }
  return { runs, violations };
}

function overlaps(runs: ReadonlyArray<{ host: string; start: number; end: number }>): string[] {
  const sorted = [...runs].sort((a, b) => a.start - b.start);
  const found: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1]!, sorted[i]!];
    if (b.start < a.end && a.host !== b.host)
      found.push(`${a.host} ${a.start}-${a.end} and ${b.host} ${b.start}-${b.end}`);
  }
  return found;
}

/** Registers the login's first refresh token with the shared endpoint, as if `claude auth login` had issued it. */
function issue(refreshToken: string): void {
  writeFileSync(path.join(server, "issued", createDigest(refreshToken)), "");
}

function createDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

test("fleet: one leader refreshes, every host's gateway (JSON and SQLite eras) gets each token, a setup-token set on one host reaches all", async () => {
  const prefix = `/fleet-${randomBytes(4).toString("hex")}/`;
  const login = {
    accessToken: randomToken("oat"),
    refreshToken: randomToken("ort"),
    expiresAt: Date.now() + 6 * 3_600_000,
  };
  issue(login.refreshToken);
  const hosts = [
    makeHost("a", prefix, { sqlite: false, login }),
    makeHost("b", prefix, { sqlite: true, login }),
    makeHost("c", prefix, { sqlite: false }),
  ];
  try {
    const daemons = hosts.map(start);
    await Promise.all(daemons.map((d) => d.waitForEvent("daemon.ready", 60_000)));
    const leader = await Promise.race(
      hosts.filter((h) => h.name !== "c").map((h) => h.daemon!.waitForEvent("fleet.elected", 30_000).then(() => h)),
    );
    for (const host of hosts) await waitHeld(host, login.accessToken);
    // A setup-token set on c (no login) reaches a and b.
    const token = randomToken();
    root.planted.push(token);
    const set = await runCli(["token", "set", "--config", hosts[2]!.config], hosts[2]!.t.env, { input: token });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /published anthropic:manual to the fleet as c/);
    for (const host of hosts) await waitHeld(host, token, SETUP);
    // c's claude holds no login: its `status` and `sync` take the fleet's copy, as its daemon does.
    const c = hosts[2]!;
    const status = await runCli(["status", "--config", c.config], c.t.env);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /^source {2}sk-ant-oat01-…\S+ expires in .* \(fleet \(published by [ab]\)\)/m);
    const sync = await runCli(["sync", "--config", c.config], c.t.env);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);
    assert.ok(leader);
  } finally {
    await Promise.all(hosts.flatMap((h) => (h.daemon ? [h.daemon.stop()] : [])));
  }
  const secrets = [
    ...root.planted,
    login.accessToken,
    login.refreshToken,
    ...hosts.flatMap((h) => [...h.t.planted, ...fakeClaudeTokens(h.control)]),
  ];
  const dump = await cluster.dump(prefix);
  assert.deepEqual(leakedTokens(dump, secrets), [], "nothing secret in etcd unsealed");
  for (const h of hosts) assert.deepEqual(leakedTokens(h.daemon!.stdout + h.daemon!.stderr, secrets), []);
  for (const h of hosts) h.t.cleanup();
});

/** Waits until the shared endpoint has seen `count` refreshes in all. */
async function waitRounds(count: number, hosts: readonly Host[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (endpointRuns().runs.length < count) {
    if (Date.now() > deadline) {
      const tail = hosts.map((h) => `${h.name}: ${h.daemon?.stdout.slice(-3000)}`).join("\n");
      assert.fail(`only ${endpointRuns().runs.length} of ${count} refreshes:\n${tail}`);
    }
    // Each host logs every pass; any of them is a sign to look again (a refresh ends in a pass everywhere).
    await Promise.race(
      hosts
        .filter((h) => h.daemon)
        .map((h) => h.daemon!.waitFor(() => true, 2_000, h.daemon!.records.length).catch(() => undefined)),
    );
  }
}

/** The host whose daemon leads now, by the hosts' own logs (the last fleet.elected not followed by fleet.deposed). */
function leaderOf(hosts: readonly Host[]): Host | undefined {
  return hosts.find((h) => {
    const records = h.daemon?.records ?? [];
    const last = (event: string) => records.map((r) => r.event).lastIndexOf(event);
    const elected = last("fleet.elected");
    const deposed = last("fleet.deposed");
    return h.daemon?.child.exitCode === null && elected > deposed;
  });
}

test("fleet: across 200 forced refresh rounds, a killed leader, a partitioned leader and a lost quorum, no two hosts ever run claude at once and none is logged out", async (t) => {
  const prefix = `/rounds-${randomBytes(4).toString("hex")}/`;
  // Tokens live 9 minutes and refreshMargin is 10: every refresh is due again at once, a round after a round.
  writeFileSync(path.join(server, "lifetime-ms"), String(9 * 60_000));
  const login = {
    accessToken: randomToken("oat"),
    refreshToken: randomToken("ort"),
    expiresAt: Date.now() + 9 * 60_000,
  };
  issue(login.refreshToken);
  // Each host reaches etcd through one member: stopping that member cuts that host off, and only it.
  const hosts = ["a", "b", "c"].map((name, i) =>
    makeHost(name, prefix, {
      sqlite: name === "b",
      ...(name !== "c" ? { login } : {}),
      endpoints: [cluster.endpoints[i]!],
      config: { refreshMargin: "10m" },
    }),
  );
  const memberOf = (host: Host) => hosts.indexOf(host);
  try {
    for (const host of hosts) start(host);
    await Promise.all(hosts.map((h) => h.daemon!.waitForEvent("daemon.ready", 60_000)));
    await waitRounds(30, hosts);

    // 1. The leader's daemon is killed: the standby is elected within the lease time and refreshes on.
    const first = leaderOf(hosts)!;
    const standby = hosts.find((h) => h !== first && h.name !== "c")!;
    const mark = standby.daemon!.records.length;
    const killedAt = Date.now();
    first.daemon!.child.kill("SIGKILL");
    await first.daemon!.exited;
    await standby.daemon!.waitFor((r) => r.event === "fleet.elected", 30_000, mark);
    // Reported, not bounded: how soon depends on the machine; the lease time (5 s) is the design's bound.
    t.diagnostic(`takeover after the leader was killed: ${Date.now() - killedAt} ms`);
    const before = endpointRuns().runs.length;
    // The killed host comes back (handing back a refresh it may have left unpublished) and stands by.
    start(first);
    await first.daemon!.waitForEvent("daemon.ready", 60_000);
    await waitRounds(before + 30, hosts);
    const fleetLog = () =>
      hosts
        .flatMap((h) =>
          h
            .daemon!.records.filter((r) => /^(fleet|refresh\.(skipped|failed))/.test(r.event))
            .map((r) => `${h.name} ${String(r.time)} ${r.event} ${r.msg}`),
        )
        .join("\n");
    const since = endpointRuns().runs.slice(before);
    assert.ok(
      since.some((r) => r.host === standby.name),
      `the standby refreshed: ${JSON.stringify(since.slice(0, 5))}\n${fleetLog()}`,
    );

    // 2. The leader is cut off from etcd: it stops refreshing before its lease ends, the other takes over.
    const cut = leaderOf(hosts)!;
    const other = hosts.find((h) => h !== cut && h.name !== "c")!;
    const mark2 = other.daemon!.records.length;
    await cluster.stop(memberOf(cut));
    await other.daemon!.waitFor((r) => r.event === "fleet.elected", 30_000, mark2);
    // If the cut-off leader had begun a refresh, the new one waits for it: it is back, and hands it back.
    await cluster.start(memberOf(cut));
    await waitRounds(endpointRuns().runs.length + 30, hosts);

    // 3. Quorum is lost (two members down): nobody can be elected, the leader stops, the followers serve on.
    const down = [0, 1, 2].filter((i) => i !== memberOf(hosts.find((h) => h.name === "c")!));
    const mark3 = hosts.map((h) => h.daemon!.records.length);
    for (const i of down) await cluster.stop(i);
    await Promise.all(hosts.map((h, i) => h.daemon!.waitFor((r) => r.event === "fleet.unreachable", 30_000, mark3[i])));
    for (const i of down) await cluster.start(i);
    await waitRounds(200, hosts, 300_000);
  } finally {
    await Promise.all(hosts.flatMap((h) => (h.daemon ? [h.daemon.stop()] : [])));
  }
  const { runs, violations } = endpointRuns();
  assert.equal(violations, "", "no refresh was made with a spent token: no host was logged out");
  assert.deepEqual(overlaps(runs), [], "no two hosts ran claude at once");
  const secrets = [...hosts.flatMap((h) => [...h.t.planted, ...fakeClaudeTokens(h.control)])];
  assert.deepEqual(leakedTokens(await cluster.dump(prefix), secrets), [], "nothing secret in etcd unsealed");
  for (const h of hosts) h.t.cleanup();
});
