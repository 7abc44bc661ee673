/**
 * What an admin sees of the fleet: `status` (text and JSON) and the daemon's log, while etcd answers and once it
 * does not. A host cut off from etcd keeps serving the last published token and says so once, not on every try.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, runCli } from "../helpers/env.js";
import { startEtcdCluster } from "../helpers/etcd.js";
import { Etcd3 } from "etcd3";
import { parseKey, seal } from "../../src/fleet/seal.js";

test("fleet status: the leader, each host's last sync and etcd's reachability; etcd lost is said once and served through", async () => {
  const cluster = await startEtcdCluster({ members: 1 });
  const t = makeHome();
  const control = installFakeClaude(t, "refresh");
  let d: DaemonProcess | undefined;
  try {
    const login = t.writeCredentials({ expiresAt: Date.now() + 6 * 3_600_000 });
    mkdirSync(t.agentDir("main"), { recursive: true });
    for (const name of ["fleet.key", "login.key"])
      writeFileSync(path.join(t.root, name), randomBytes(32).toString("base64"), { mode: 0o600 });
    const fleet = {
      etcd: { endpoints: cluster.endpoints },
      keyFile: path.join(t.root, "fleet.key"),
      loginKeyFile: path.join(t.root, "login.key"),
      host: "alpha",
      leaseTime: "5s",
    };
    const metrics = { listen: "127.0.0.1:0" };
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify({ logLevel: "debug", fleet, metrics }));
    d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")]);
    const { port } = await d.waitForEvent("metrics.listening", 60_000);
    await d.waitForEvent("fleet.elected", 60_000);
    const published = d.records.indexOf(await d.waitFor((r) => r.event === "fleet.published", 30_000));
    // The state file takes the fleet's view after a pass: the publish's own change asks for one.
    await d.waitFor((r) => r.event === "sync.done", 30_000, published);
    const status = await runCli(["status", "--config", path.join(t.root, "config.json")], t.env);
    assert.match(status.stdout, /^fleet {3}this host is alpha; etcd reachable$/m);
    assert.match(status.stdout, /^ {2}anthropic:claude-cli refreshed by alpha$/m);
    assert.match(status.stdout, /^ {2}host alpha: (last sync .*|no sync yet); stands by for anthropic:claude-cli$/m);
    const json = JSON.parse(
      (await runCli(["status", "--json", "--config", path.join(t.root, "config.json")], t.env)).stdout,
    );
    assert.equal(json.daemon.fleet.reachable, true);
    assert.deepEqual(json.daemon.fleet.leaders, { "anthropic:claude-cli": "alpha" });
    const health = (await (await fetch(`http://127.0.0.1:${String(port)}/healthz`)).json()) as {
      healthy: boolean;
      daemon: { fleet: { reachable: boolean; leaders: Record<string, string> } };
    };
    assert.equal(health.healthy, true);
    assert.equal(health.daemon.fleet.reachable, true);
    assert.deepEqual(health.daemon.fleet.leaders, { "anthropic:claude-cli": "alpha" });

    const doctor = await runCli(["doctor", "--config", path.join(t.root, "config.json")], t.env);
    assert.match(doctor.stdout, /ok +fleet key +key [0-9a-f]{12} \(the same on every host\)/);
    assert.match(doctor.stdout, /ok +fleet etcd +http:\/\/127\.0\.0\.1:\d+ answers; this host is alpha; hosts: alpha/);
    assert.match(doctor.stdout, /ok +fleet anthropic:claude-cli +refreshed by alpha/);

    // Hostile values under the prefix: each is skipped with one line, said once however often the fleet is read.
    const client = new Etcd3({ hosts: cluster.endpoints });
    try {
      const stranger = parseKey(randomBytes(32).toString("base64"), "test");
      const key = "/moltbot-auth-sync/logins/anthropic:other/access";
      const access = { by: "x", publishedAt: 1, expiresAt: Date.now() + 3_600_000, fingerprint: "f" };
      await client.put(key).value(JSON.stringify({ ...access, token: seal(stranger, key, "secret") }));
      await client.put("/moltbot-auth-sync/setup-tokens/anthropic:bogus").value("not json");
      const invalid = (text: RegExp) => (r: { event: string; msg: string }) =>
        r.event === "fleet.invalid" && text.test(r.msg);
      await d.waitFor(invalid(/which this host does not hold; skipped$/));
      await d.waitFor(invalid(/setup-tokens\/anthropic:bogus is not JSON; skipped$/));
      // A third value is read after both: by then each of the first two was read again, and said no more.
      await client.put("/moltbot-auth-sync/setup-tokens/anthropic:third").value("[]");
      await d.waitFor(invalid(/anthropic:third/));
      assert.equal(d.records.filter(invalid(/anthropic:bogus/)).length, 1);
      assert.equal(d.records.filter(invalid(/does not hold/)).length, 1);
      assert.equal(t.readStore("main").profiles["anthropic:claude-cli"].token, login.accessToken);
    } finally {
      client.close();
    }

    const mark = d.records.length;
    await cluster.stop(0);
    await d.waitFor((r) => r.event === "fleet.unreachable", 30_000, mark);
    // Until etcd answers again: the agents keep the token, and the outage was said once.
    assert.equal(t.readStore("main").profiles["anthropic:claude-cli"].token, login.accessToken);
    const down = await runCli(["doctor", "--config", path.join(t.root, "config.json")], t.env);
    assert.notEqual(down.code, 0);
    assert.match(down.stdout, /FAIL +fleet etcd +.*\n.*etcdctl --endpoints=http:\/\/127\.0\.0\.1:\d+ endpoint health/);
    await cluster.start(0);
    await d.waitFor((r) => r.event === "fleet.reachable", 60_000, mark);
    const said = d.records.slice(mark).filter((r) => r.event === "fleet.unreachable");
    assert.equal(said.length, 1, said.map((r) => r.msg).join("\n"));
  } finally {
    await d?.stop();
    await cluster.close();
  }
  assert.deepEqual(leakedTokens(d.stdout + d.stderr, [...t.planted, ...fakeClaudeTokens(control)]), []);
  t.cleanup();
});
