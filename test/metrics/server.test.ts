/** The metrics server answers every scrape within its wait for a fresh status, from the last one if need be. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Metrics } from "../../src/metrics/registry.js";
import { startMetricsServer } from "../../src/metrics/server.js";
import type { StatusReport } from "../../src/report/collect-status.js";

const never = () => new Promise<StatusReport>(() => undefined);

/** A server on a free loopback port whose status is `status`; its base URL to `use`, closed after. */
async function withServer(status: () => Promise<StatusReport>, use: (base: string) => Promise<void>): Promise<void> {
  const deps = { metrics: new Metrics(), status, daemon: () => ({}), allowRemote: false };
  const server = await startMetricsServer({ host: "127.0.0.1", port: 0 }, deps);
  try {
    await use(`http://127.0.0.1:${server.address.port}`);
  } finally {
    await server.close();
  }
}

test("a scrape whose status hangs is answered from the last one collected, marked with its age", async () => {
  let calls = 0;
  const status = () => (++calls === 1 ? Promise.reject(new Error("the first status")) : never());
  await withServer(status, async (base) => {
    const first = await fetch(`${base}/healthz`);
    const firstBody = (await first.json()) as Record<string, unknown>;
    assert.equal(first.status, 503);
    assert.equal(firstBody.why, "the first status");
    assert.equal(first.headers.get("x-status-collected-at"), null, "a fresh answer has no age");
    const second = await fetch(`${base}/healthz`);
    const body = (await second.json()) as Record<string, unknown>;
    assert.equal(second.status, 503);
    assert.equal(body.why, "the first status", "the last status collected");
    const at = second.headers.get("x-status-collected-at");
    assert.ok(at !== null && body.statusCollectedAt === at, "marked with when it was collected");
    assert.equal(calls, 2, "the hanging collection is shared, not started again");
    const metrics = await fetch(`${base}/metrics`);
    await metrics.arrayBuffer();
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get("x-status-collected-at"), at);
  });
});

test("before any status is collected, a hanging one is answered 503 with why", () =>
  withServer(never, async (base) => {
    const res = await fetch(`${base}/healthz`);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 503);
    assert.match(String(body.why), /^the stores took over 3 s to read/);
  }));
