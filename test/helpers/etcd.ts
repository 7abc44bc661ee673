/**
 * A real etcd cluster for a test: Debian's `etcd` (3.4), members on loopback ports the OS chose, data in a temp
 * folder, each member's output in a log there. Ready means every member answers /health with "true": a positive
 * signal, polled, never a sleep. `.ci/run` installs etcd-server and etcd-client.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

export interface EtcdCluster {
  endpoints: string[];
  /** SIGTERM a member and wait for its exit. */
  stop(i: number): Promise<void>;
  /** SIGKILL a member and wait for its exit. */
  kill(i: number): Promise<void>;
  /** Starts a stopped member again, on its data, and waits until it is healthy. */
  start(i: number): Promise<void>;
  /** Every key and value under `prefix`, as `etcdctl get --prefix` prints them. */
  dump(prefix?: string): Promise<string>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Member {
  name: string;
  client: number;
  peer: number;
  dataDir: string;
  log: string;
  child?: ChildProcess;
  exited?: Promise<void>;
}

const HEALTH_BOUND_MS = 60_000;

async function healthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return ((await response.json()) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

export async function startEtcdCluster(options: { members?: number } = {}): Promise<EtcdCluster> {
  const count = options.members ?? 3;
  const dir = mkdtempSync(path.join(os.tmpdir(), "mas-etcd-"));
  const token = path.basename(dir);
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    const name = `m${i}`;
    members.push({
      name,
      client: await freePort(),
      peer: await freePort(),
      dataDir: path.join(dir, name),
      log: path.join(dir, `${name}.log`),
    });
  }
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const launch = (m: Member, state: "new" | "existing") => {
    const out = openSync(m.log, "a");
    const child = spawn(
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
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--log-level=warn",
      ],
      { stdio: ["ignore", out, out] },
    );
    m.child = child;
    m.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  };
  const waitHealthy = async (which: readonly Member[]) => {
    const deadline = Date.now() + HEALTH_BOUND_MS;
    for (;;) {
      const states = await Promise.all(which.map((m) => healthy(m.client)));
      if (states.every(Boolean)) return;
      const dead = which.find((m) => m.child?.exitCode !== null || m.child?.signalCode !== null);
      if (dead || Date.now() > deadline) {
        const tails = which.map((m) => `${m.name}: ${readFileSync(m.log, "utf8").slice(-1500)}`).join("\n");
        throw new Error(`etcd did not become healthy${dead ? ` (${dead.name} exited)` : ""}:\n${tails}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  for (const m of members) launch(m, "new");
  try {
    await waitHealthy(members);
  } catch (err) {
    for (const m of members) m.child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const end = async (i: number, signal: NodeJS.Signals) => {
    const m = members[i]!;
    if (m.child && m.child.exitCode === null && m.child.signalCode === null) m.child.kill(signal);
    await m.exited;
  };
  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  let closed = false;
  return {
    endpoints,
    stop: (i) => end(i, "SIGTERM"),
    kill: (i) => end(i, "SIGKILL"),
    async start(i) {
      launch(members[i]!, "existing");
      await waitHealthy([members[i]!]);
    },
    async dump(prefix = "") {
      const { stdout } = await promisify(execFile)(
        "etcdctl",
        [`--endpoints=${endpoints.join(",")}`, "get", "--prefix", prefix],
        { env: { ...process.env, ETCDCTL_API: "3" }, maxBuffer: 64 * 1024 * 1024 },
      );
      return stdout;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(members.map((_, i) => end(i, "SIGKILL")));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
