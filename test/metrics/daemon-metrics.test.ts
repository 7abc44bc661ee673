/** The metrics server of the real daemon: scraped through an outage and a recovery, never leaking a token. */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { test } from "node:test";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
const MIN = 60_000;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text page (label values here never hold a quote or a comma). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

function store(cred: { accessToken: string; expiresAt: number }) {
  return {
    version: 1,
    profiles: { [ID]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt } },
    usageStats: { [ID]: { lastUsed: 1234 } },
  };
}

function writeConfig(t: TestHome, config: unknown): string {
  const file = path.join(t.root, "config.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

class Scraper {
  /** Every response body, for the leak check. */
  bodies = "";
  constructor(private readonly base: string) {}

  async get(pathname: string): Promise<{ status: number; text: string; type: string | null }> {
    const res = await fetch(`${this.base}${pathname}`);
    const text = await res.text();
    this.bodies += `${text}\n`;
    return { status: res.status, text, type: res.headers.get("content-type") };
  }

  /** Scrapes until `check` passes (a pass finishes a moment after the event that the test waited for). */
  async until<T>(pathname: string, check: (r: { status: number; text: string }) => T, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.get(pathname);
      try {
        return { ...r, checked: check(r) };
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

test("metrics and healthz follow an outage and a recovery, and hold no token", async () => {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  // Inside refreshMargin: the daemon asks claude at once, claude fails (invalid_grant), our profile is marked.
  const cred = t.writeCredentials({ expiresAt: Date.now() + MIN });
  t.writeStore("main", store(cred));
  t.writeStore("work", store(cred));
  const other = randomToken();
  t.planted.push(other);
  const config = writeConfig(t, { metrics: { listen: "127.0.0.1:0" } });
  const d = new DaemonProcess(t, ["--config", config]);
  let scraper: Scraper | undefined;
  try {
    const listening = await d.waitForEvent("metrics.listening");
    assert.equal(listening.level, "info");
    assert.equal(listening.host, "127.0.0.1");
    assert.ok(typeof listening.port === "number" && listening.port > 0);
    scraper = new Scraper(`http://127.0.0.1:${listening.port}`);

    await d.waitForEvent("cooldown.marked");
    const outageHealth = await scraper.until("/healthz", (r) => {
      assert.equal(r.status, 503);
      const body = JSON.parse(r.text);
      assert.equal(body.healthy, false);
      assert.match(body.why, /disabled \(auth\)/);
      return body;
    });
    const body = outageHealth.checked;
    // The status --json shape: the same keys as `status --json`, plus healthy and lastPass.
    const status = JSON.parse((await runCli(["--config", config, "status", "--json"], t.env)).stdout);
    for (const key of Object.keys(status)) assert.ok(key in body, `healthz lacks ${key}`);
    assert.equal(body.lastPass.ok, false);
    assert.equal(body.exitCode, 1);
    assert.deepEqual(body.agents.map((a: { agent: string }) => a.agent).sort(), ["main", "work"]);

    const outage = (
      await scraper.until("/metrics", (r) => {
        for (const agent of ["main", "work"]) {
          const labels = { agent, profile: ID, kind: "disabled", reason: "auth" };
          assert.equal(value(r.text, "moltbot_auth_sync_profile_usable", labels), 0);
        }
        assert.equal(value(r.text, "moltbot_auth_sync_healthy"), 0);
      })
    ).text;
    assert.ok(value(outage, "moltbot_auth_sync_refresh_attempts_total", { result: "failed" })! >= 1);
    assert.ok(value(outage, "moltbot_auth_sync_markings_total", { by: "daemon" })! >= 2);
    assert.ok(value(outage, "moltbot_auth_sync_failures_total", { code: "refresh.failed" })! >= 1);
    assert.ok(value(outage, "moltbot_auth_sync_passes_total", { result: "failed" })! >= 1);
    assert.ok(value(outage, "moltbot_auth_sync_syncs_total", { result: "marked" })! >= 2);
    const left = value(outage, "moltbot_auth_sync_profile_expiry_seconds", { profile: ID })!;
    assert.ok(left > 0 && left <= 60, `expiry in ${left} s`);
    assert.ok(value(outage, "process_resident_memory_bytes")! > 0, "the daemon's own process metrics");
    assert.equal(value(outage, "moltbot_auth_sync_recoveries_total"), 0);
    const writtenBefore = value(outage, "moltbot_auth_sync_syncs_total", { result: "written" }) ?? 0;

    t.writeCredentials();
    await d.waitForEvent("recovered");
    const healthy = await scraper.until("/healthz", (r) => assert.equal(r.status, 200));
    const after = JSON.parse(healthy.text);
    assert.equal(after.healthy, true);
    assert.equal(after.lastPass.ok, true);
    assert.equal(after.exitCode, 0);
    assert.equal(after.why, undefined);
    const recovered = (await scraper.get("/metrics")).text;
    for (const agent of ["main", "work"]) {
      assert.equal(value(recovered, "moltbot_auth_sync_profile_usable", { agent, profile: ID }), 1);
      assert.equal(value(recovered, "moltbot_auth_sync_profile_usable", { agent, kind: "disabled" }), undefined);
    }
    assert.equal(value(recovered, "moltbot_auth_sync_healthy"), 1);
    assert.equal(value(recovered, "moltbot_auth_sync_recoveries_total"), 1);
    assert.ok(value(recovered, "moltbot_auth_sync_syncs_total", { result: "written" })! >= writtenBefore + 2);
    assert.ok(value(recovered, "moltbot_auth_sync_passes_total", { result: "ok" })! >= 1);
    const lastSuccess = value(recovered, "moltbot_auth_sync_last_success_timestamp_seconds")!;
    assert.ok(Math.abs(lastSuccess - Date.now() / 1000) < 30, `last success ${lastSuccess}`);
    assert.ok(value(recovered, "moltbot_auth_sync_profile_expiry_seconds", { profile: ID })! > 7 * 3600);

    for (const p of ["/", "/metrics/", "/healthz/x", "/favicon.ico", "/metricsx"]) {
      assert.equal((await scraper.get(p)).status, 404, p);
    }
    assert.equal((await fetch(`http://127.0.0.1:${listening.port}/metrics`, { method: "POST" })).status, 404);
  } finally {
    const stopped = Date.now();
    await d.stop();
    const stopMs = Date.now() - stopped;
    const leaks = leakedTokens(`${d.stdout}${d.stderr}${scraper?.bodies ?? ""}`, [
      ...t.planted,
      ...fakeClaudeTokens(control),
    ]);
    t.cleanup();
    assert.deepEqual(leaks, []);
    assert.ok(stopMs < 15_000, `not hung: stopped in ${stopMs} ms (its own deadline is 4.5 s)`);
  }
});

test("a non-loopback listen address without allowRemote exits 78 with one line, before anything runs", async () => {
  const t = makeHome();
  try {
    t.writeCredentials();
    for (const listen of ["0.0.0.0:9477", "192.0.2.1:9477", "[::]:9477", "example.com:9477"]) {
      const config = writeConfig(t, { metrics: { listen } });
      const run = await runCli(["--config", config, "run"], t.env, { timeoutMs: 20_000 });
      assert.equal(run.code, 78, `${listen}: ${run.stderr}`);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.match(run.stderr, /metrics\.listen: .* is not a loopback address; set metrics\.allowRemote to true/);
      assert.equal(run.stdout, "", "nothing ran");
    }
    for (const listen of ["127.0.0.1", "127.0.0.1:99999", "[127.0.0.1]:1", "a b:1"]) {
      const run = await runCli(["--config", writeConfig(t, { metrics: { listen } }), "run"], t.env);
      assert.equal(run.code, 78, `${listen}: ${run.stderr}`);
      assert.match(run.stderr, /metrics\.listen/);
    }
    const unknown = await runCli(["--config", writeConfig(t, { metrics: { listen: "::1:1", x: 1 } }), "run"], t.env);
    assert.equal(unknown.code, 78);
  } finally {
    t.cleanup();
  }
});

test("allowRemote serves other hosts and says so in one warn line", async () => {
  const t = makeHome();
  t.writeCredentials();
  t.writeStore("main", { version: 1, profiles: {} });
  const d = new DaemonProcess(t, ["--config", writeConfig(t, { metrics: { listen: "0.0.0.0:0", allowRemote: true } })]);
  try {
    const listening = await d.waitForEvent("metrics.listening");
    assert.equal(listening.level, "warn");
    assert.equal(listening.remote, true);
    assert.match(listening.msg, /to other hosts/);
    assert.equal(d.records.filter((r) => r.level === "warn").length, 1);
    await d.waitForEvent("daemon.ready");
    const res = await fetch(`http://127.0.0.1:${listening.port as number}/healthz`);
    assert.equal(res.status, 200, await res.text());
  } finally {
    await d.stop();
    t.cleanup();
  }
});

test("no gateway state dir: healthz is 503 and says why, metrics still answer with the failed pass", async () => {
  const t = makeHome();
  t.writeCredentials();
  rmSync(t.stateDir, { recursive: true });
  const d = new DaemonProcess(t, ["--config", writeConfig(t, { metrics: { listen: "[::1]:0" } })]);
  try {
    const { port } = await d.waitForEvent("metrics.listening");
    await d.waitForEvent("daemon.ready");
    const scraper = new Scraper(`http://[::1]:${port as number}`);
    const health = await scraper.get("/healthz");
    assert.equal(health.status, 503);
    const body = JSON.parse(health.text);
    assert.equal(body.healthy, false);
    assert.match(body.why, /state dir/i);
    assert.equal(body.lastPass.ok, false);
    const metrics = await scraper.get("/metrics");
    assert.equal(metrics.status, 200);
    assert.match(metrics.type ?? "", /^text\/plain; version=0\.0\.4/);
    assert.ok(value(metrics.text, "moltbot_auth_sync_passes_total", { result: "failed" })! >= 1);
    assert.equal(value(metrics.text, "moltbot_auth_sync_passes_total", { result: "ok" }), 0);
    assert.equal(value(metrics.text, "moltbot_auth_sync_failures_total", { code: "state_dir.missing" }), 1);
    assert.equal(value(metrics.text, "moltbot_auth_sync_healthy"), 0);
    assert.equal(value(metrics.text, "moltbot_auth_sync_last_success_timestamp_seconds"), 0);
    assert.ok(!metrics.text.includes("moltbot_auth_sync_profile_usable{"), "no agent, no usable gauge");
  } finally {
    await d.stop();
    t.cleanup();
  }
});

test("a port in use never stops syncing: one warn line, status and doctor say why, and it binds once freed", async () => {
  const t = makeHome();
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const port = (taken.address() as { port: number }).port;
  let d: DaemonProcess | undefined;
  try {
    const cred = t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    const config = writeConfig(t, { metrics: { listen: `127.0.0.1:${port}` } });
    d = new DaemonProcess(t, ["--config", config]);
    await d.waitForEvent("daemon.ready", 20_000);
    const [unavailable] = d.events("metrics.unavailable");
    assert.equal(unavailable?.level, "warn");
    assert.match(unavailable.msg, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE.*; syncing goes on without metrics/);
    assert.equal(t.readStore("main").profiles[ID].token, cred.accessToken, "synced all the same");
    const status = await runCli(["--config", config, "status"], t.env);
    assert.match(status.stdout, new RegExp(`^metrics not serving on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`, "m"));
    const doctor = await runCli(["--config", config, "doctor", "--json"], t.env);
    const check = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === "metrics");
    assert.equal(check.status, "warn");
    assert.match(check.fix, new RegExp(`^ss -ltnp 'sport = :${port}'`));
    await new Promise<void>((resolve) => taken.close(() => resolve()));
    const listening = await d.waitForEvent("metrics.listening", 60_000);
    assert.equal(listening.port, port);
    assert.equal(d.events("metrics.unavailable").length, 1, "logged once, however often the bind was retried");
    const scraped = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(scraped.status, 200);
    await scraped.arrayBuffer();
  } finally {
    await d?.stop();
    taken.close();
    t.cleanup();
  }
  assert.deepEqual(
    d.records.filter((r) => r.level === "error"),
    [],
  );
});

test("SIGTERM stops the daemon within 5 s while a scraper holds a connection open", async () => {
  const t = makeHome();
  t.writeCredentials();
  t.writeStore("main", { version: 1, profiles: {} });
  const d = new DaemonProcess(t, ["--config", writeConfig(t, { metrics: { listen: "localhost:0" } })]);
  try {
    const { port } = await d.waitForEvent("metrics.listening");
    await d.waitForEvent("daemon.ready");
    // A connection that sent half a request: the server would wait for the rest until its request timeout.
    const { connect } = await import("node:net");
    const socket = connect(port as number, "localhost");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n");
    socket.on("error", () => undefined);
    const started = Date.now();
    const exit = await d.stop();
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - started < 15_000, `not hung: stopped in ${Date.now() - started} ms`);
    socket.destroy();
  } finally {
    await d.stop();
    t.cleanup();
  }
});
