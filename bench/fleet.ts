/**
 * Fleet mode's figure: how soon a login refreshed on the leader reaches a follower's gateway, through a real
 * three-member etcd cluster (test/helpers/etcd.ts). Measured from the moment the leader's claude file holds a new
 * token to the follower's `sync.written` of it (both daemons log epoch times on this one machine). The floor, in the
 * same run on the same cluster: a bare etcd3 client puts a value, another watching it writes it to a file
 * atomically, the least any fleet can do for one publish.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Etcd3 } from "etcd3";
import { fingerprint } from "../src/core/fingerprint.js";
import { DaemonProcess } from "../test/helpers/daemon.js";
import { makeHome, randomToken, type TestHome } from "../test/helpers/env.js";
import { type EtcdCluster, startEtcdCluster } from "../test/helpers/etcd.js";
import { percentile, ratio, spread } from "./stats.js";

const progress = (msg: string) => process.stderr.write(`bench: fleet: ${msg}\n`);
const LOGIN = "anthropic:login";

function host(name: string, cluster: EtcdCluster, keys: string, login: boolean): TestHome {
  const t = makeHome();
  if (login) t.writeCredentials();
  mkdirSync(t.agentDir("main"), { recursive: true });
  const fleet = {
    etcd: { endpoints: cluster.endpoints },
    keyFile: path.join(keys, "fleet.key"),
    ...(login ? { loginKeyFile: path.join(keys, "login.key") } : {}),
    host: name,
  };
  writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ profileId: LOGIN, credentialType: "token", fleet }));
  return t;
}

export async function fleetFigures(rounds: number) {
  progress("starting a three-member etcd cluster");
  const cluster = await startEtcdCluster();
  const keys = makeHome();
  for (const name of ["fleet.key", "login.key"])
    writeFileSync(path.join(keys.root, name), randomBytes(32).toString("base64"), { mode: 0o600 });
  const leader = host("leader", cluster, keys.root, true);
  const follower = host("follower", cluster, keys.root, false);
  const daemons: DaemonProcess[] = [];
  try {
    const start = (t: TestHome) => {
      const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
      daemons.push(d);
      return d;
    };
    const [l, f] = [start(leader), start(follower)];
    await l.waitForEvent("fleet.elected", 60_000);
    await f.waitForEvent("daemon.ready", 60_000);
    progress(`${rounds} logins published, leader to follower`);
    const publish: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const token = randomToken("oat");
      const from = f.records.length;
      const at = Date.now();
      leader.writeCredentials({ accessToken: token, expiresAt: Date.now() + 8 * 3_600_000 + i });
      const fp = fingerprint(token);
      const written = await f.waitFor((r) => r.event === "sync.written" && r.fingerprint === fp, 30_000, from);
      publish.push(Date.parse(String(written.time)) - at);
    }
    progress(`${rounds} bare puts watched and written (the floor)`);
    const floor = await floorLatencies(cluster, keys.root, rounds);
    return {
      publishToFollowerStoreMs: spread(publish),
      floorPutWatchWriteMs: spread(floor),
      ratioToFloor: {
        p50: ratio(percentile(publish, 50), percentile(floor, 50)),
        p99: ratio(percentile(publish, 99), percentile(floor, 99)),
      },
      target: { ms: 1_000, p99Within: percentile(publish, 99) <= 1_000 },
    };
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await cluster.close();
    for (const t of [leader, follower, keys]) t.cleanup();
  }
}

/** A put seen by another client's watch and written to a file atomically: one publish's least work. */
async function floorLatencies(cluster: EtcdCluster, dir: string, rounds: number): Promise<number[]> {
  const [writer, reader] = [new Etcd3({ hosts: cluster.endpoints }), new Etcd3({ hosts: cluster.endpoints })];
  try {
    const file = path.join(dir, "floor.json");
    const seen = new Map<string, (at: number) => void>();
    const watcher = await reader.watch().key("/floor").create();
    watcher.on("put", (kv) => {
      const value = kv.value.toString();
      writeFileSync(`${file}.tmp`, value, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
      seen.get(value)?.(Date.now());
    });
    const out: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const value = randomBytes(16).toString("hex");
      const done = new Promise<number>((resolve) => seen.set(value, resolve));
      const at = Date.now();
      await writer.put("/floor").value(value);
      out.push((await done) - at);
    }
    await watcher.cancel();
    return out;
  } finally {
    writer.close();
    reader.close();
  }
}
