/** Which Host headers the metrics server answers: names that cannot be rebound to it, and nothing else. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { hostAllowed } from "../../src/metrics/host-header.js";

const loopback = { listen: { host: "127.0.0.1", port: 9477 }, port: 9477, allowRemote: false };

test("loopback names and the configured host are served, with or without the bound port", () => {
  for (const host of ["localhost", "LOCALHOST:9477", "127.0.0.1", "127.0.0.1:9477", "[::1]", "[::1]:9477", "127.3.2.1"])
    assert.ok(hostAllowed(host, loopback), host);
  const named = { listen: { host: "metrics.internal", port: 9477 }, port: 9477, allowRemote: true };
  assert.ok(hostAllowed("metrics.internal:9477", named));
});

test("a rebound name, another port, a malformed or missing Host is refused", () => {
  for (const host of [
    undefined,
    "",
    "rebind.example",
    "rebind.example:9477",
    "127.0.0.1.nip.io:9477",
    "localhost.:9477",
    "localhost:9478",
    "::1",
    "[127.0.0.1]",
    "[::1]:x",
    "localhost:9477:9477",
    "10.0.0.5:9477",
    "localhost\r\nX: y",
  ])
    assert.ok(!hostAllowed(host, loopback), JSON.stringify(host));
});

test("with allowRemote any IP address is served (an address cannot be rebound), a foreign name still not", () => {
  const remote = { listen: { host: "0.0.0.0", port: 9477 }, port: 9477, allowRemote: true };
  for (const host of ["10.0.0.5:9477", "[2001:db8::1]:9477", "localhost"]) assert.ok(hostAllowed(host, remote), host);
  assert.ok(!hostAllowed("rebind.example:9477", remote));
});
