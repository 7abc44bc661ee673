/**
 * A real etcd cluster for a test: Debian's `etcd` (3.4), members on loopback ports the OS chose, data in a temp
 * folder, each member's output in a log there. Ready means every member answers /health with "true": a positive
 * signal, polled, never a sleep. `.ci/run` installs etcd-server and etcd-client.
 *
 *   const cluster = await startEtcdCluster();   // three members
 *   t.after(() => cluster.close());
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

export interface EtcdClusterOptions {
  /** How many members (3). */
  members?: number;
  /** Where the cluster's temp folder is made (os.tmpdir()). */
  dir?: string;
}

export interface EtcdCluster {
  /** `http://127.0.0.1:<client port>`, one per member, in member order. */
  endpoints: string[];
  /** SIGTERM a member and wait for its exit (a no-op on a member that is not running). */
  stop(i: number): Promise<void>;
  /** SIGKILL a member and wait for its exit (a no-op on a member that is not running). */
  kill(i: number): Promise<void>;
  /**
   * Starts a stopped member again, on its data, and waits until it is healthy. Healthy needs a quorum: with two of
   * three members down the first one started back makes one; with all three down, start two at once
   * (`Promise.all([start(0), start(1)])`), as neither is healthy without the other.
   */
  start(i: number): Promise<void>;
  /** Every key and value under `prefix` (all by default), as `etcdctl get --prefix` prints them. */
  dump(prefix?: string): Promise<string>;
  /** Kills every member and removes the temp folder; safe to call twice. */
  close(): Promise<void>;
}

/** How long a member may take to be healthy: a loaded CI machine starts three Go processes at once. */
const HEALTH_BOUND_MS = 60_000;
const POLL_MS = 50;
/** Starts whose ports another process took between our probe and etcd's bind (rare: a few, then give up). */
const START_ATTEMPTS = 3;

interface Member {
  name: string;
  client: number;
  peer: number;
  dataDir: string;
  log: string;
  child?: ChildProcess;
  exited?: Promise<void>;
}

/**
 * `count` distinct ports the OS says are free now. All are held until all are chosen, so no two are the same; they
 * are released before etcd binds them, so another process may take one meanwhile (startEtcdCluster retries then).
 */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return ((await response.json()) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

function running(m: Member): boolean {
  return m.child !== undefined && m.child.exitCode === null && m.child.signalCode === null;
}

function logTail(m: Member): string {
  const log = existsSync(m.log) ? readFileSync(m.log, "utf8") : "";
  return `--- ${m.name} (${m.log}):\n${log.slice(-2_000)}`;
}

/** A member that exited before it was healthy, and whether it was because a port it was given was taken. */
class MemberExited extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean,
  ) {
    super(message);
  }
}

function launch(m: Member, initialCluster: string, token: string, state: "new" | "existing"): void {
  // The log is appended to across restarts: a test that fails after start(i) shows the member's whole life.
  const out = openSync(m.log, "a");
  let child: ChildProcess;
  try {
    child = spawn(
      "etcd",
      [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=http://127.0.0.1:${m.client}`,
        `--advertise-client-urls=http://127.0.0.1:${m.client}`,
        `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-state=${state}`,
        `--initial-cluster-token=${token}`,
        // etcd's defaults (100 ms, 1 s) are for real networks; loopback elects a leader in a tenth of the time, and a
        // test that stops a member sees the others elect a new one within about a second.
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--logger=zap",
      ],
      { stdio: ["ignore", out, out] },
    );
  } finally {
    closeSync(out); // the child has its own copy
  }
  m.child = child;
  m.exited = new Promise((resolve) => {
    child.once("exit", () => resolve());
    // No etcd on PATH: said in the log, so the health wait's error shows it; 'exit' does not follow.
    child.once("error", (err) => {
      appendFileSync(m.log, `spawn etcd: ${err.message}\n`);
      resolve();
    });
  });
}

/** Polls until every member in `which` is healthy; throws with their log tails past the bound or if one exits. */
async function waitHealthy(which: readonly Member[]): Promise<void> {
  const deadline = Date.now() + HEALTH_BOUND_MS;
  for (;;) {
    const states = await Promise.all(which.map((m) => healthy(m.client)));
    if (states.every(Boolean)) return;
    const dead = which.find((m) => !running(m));
    if (dead) {
      // Give its log the exit's last lines: 'exit' may come before the file has them all.
      await dead.exited;
      const tails = which.map(logTail).join("\n");
      const portTaken = /bind: address already in use/.test(readFileSync(dead.log, "utf8"));
      throw new MemberExited(`etcd member ${dead.name} exited before it was healthy:\n${tails}`, portTaken);
    }
    if (Date.now() > deadline) {
      const tails = which.map(logTail).join("\n");
      throw new Error(`etcd was not healthy within ${HEALTH_BOUND_MS} ms:\n${tails}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function end(m: Member, signal: NodeJS.Signals): Promise<void> {
  if (running(m)) m.child!.kill(signal);
  await m.exited;
}

export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const count = options.members ?? 3;
  const dir = mkdtempSync(path.join(options.dir ?? os.tmpdir(), "mas-etcd-"));
  let members: Member[] = [];
  let initialCluster = "";
  let token = "";
  try {
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(2 * count);
      members = ports.slice(0, count).map((client, i) => ({
        name: `m${i}`,
        client,
        peer: ports[count + i]!,
        dataDir: path.join(dir, `m${i}`),
        log: path.join(dir, `m${i}.log`),
      }));
      initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
      // Unique per cluster: a member of another test's cluster that is given a port one of ours had cannot join.
      token = `mas-etcd-${randomUUID()}`;
      for (const m of members) {
        rmSync(m.dataDir, { recursive: true, force: true });
        launch(m, initialCluster, token, "new");
      }
      try {
        await waitHealthy(members);
        break;
      } catch (err) {
        await Promise.all(members.map((m) => end(m, "SIGKILL")));
        if (!(err instanceof MemberExited && err.portTaken && attempt < START_ATTEMPTS)) throw err;
        for (const m of members) appendFileSync(m.log, `--- a port was taken; starting the cluster again\n`);
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  const member = (i: number): Member => {
    const m = members[i];
    if (!m) throw new RangeError(`no etcd member ${i} in a cluster of ${members.length}`);
    return m;
  };
  let closing: Promise<void> | undefined;
  return {
    endpoints,
    stop: (i) => end(member(i), "SIGTERM"),
    kill: (i) => end(member(i), "SIGKILL"),
    async start(i) {
      const m = member(i);
      if (closing) throw new Error("the etcd cluster is closed");
      if (running(m)) throw new Error(`etcd member ${m.name} is already running`);
      launch(m, initialCluster, token, "existing");
      await waitHealthy([m]);
    },
    async dump(prefix = "") {
      const { stdout } = await promisify(execFile)(
        "etcdctl",
        [`--endpoints=${endpoints.join(",")}`, "get", "--prefix", "--", prefix],
        { env: { ...process.env, ETCDCTL_API: "3" }, maxBuffer: 64 * 1024 * 1024 },
      );
      return stdout;
    },
    close() {
      closing ??= (async () => {
        await Promise.all(members.map((m) => end(m, "SIGKILL")));
        rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
