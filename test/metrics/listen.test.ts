/** The metrics `listen` address: parsed strictly, and loopback only unless allowRemote. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import { isLoopback, parseListen } from "../../src/config/listen.js";

test("loopback is 127.0.0.0/8, ::1 in any spelling, and localhost; nothing else", () => {
  for (const host of [
    "127.0.0.1",
    "127.255.3.4",
    "::1",
    "0:0:0:0:0:0:0:1",
    "::ffff:127.0.0.1",
    "localhost",
    "LOCALHOST",
  ])
    assert.equal(isLoopback(host), true, host);
  for (const host of [
    "0.0.0.0",
    "::",
    "128.0.0.1",
    "192.0.2.1",
    "10.0.0.1",
    "::2",
    "localhost.example.com",
    "example.com",
  ])
    assert.equal(isLoopback(host), false, host);
});

test("listen is host:port or [v6]:port with a port up to 65535", () => {
  assert.deepEqual(parseListen("127.0.0.1:9477"), { host: "127.0.0.1", port: 9477 });
  assert.deepEqual(parseListen("[::1]:0"), { host: "::1", port: 0 });
  assert.deepEqual(parseListen("localhost:9477"), { host: "localhost", port: 9477 });
  for (const bad of ["127.0.0.1", ":9477", "::1:9477", "[127.0.0.1]:1", "127.0.0.1:65536", "a b:1", "h:-1", "h:1\n"])
    assert.equal(typeof parseListen(bad), "string", bad);
});

test("the config takes a loopback listen, and another address only with allowRemote", () => {
  assert.deepEqual(parseConfig({ metrics: { listen: "127.0.0.1:9477" } }, "c").metrics, {
    listen: "127.0.0.1:9477",
    allowRemote: false,
  });
  assert.equal(parseConfig({}, "c").metrics, undefined);
  assert.throws(
    () => parseConfig({ metrics: { listen: "0.0.0.0:9477" } }, "c"),
    /^ConfigError: c: key metrics\.listen: 0\.0\.0\.0 is not a loopback address; set metrics\.allowRemote to true/,
  );
  assert.equal(parseConfig({ metrics: { listen: "0.0.0.0:9477", allowRemote: true } }, "c").metrics?.allowRemote, true);
  assert.throws(() => parseConfig({ metrics: { listen: "127.0.0.1:1", port: 1 } }, "c"), /unknown key "port"/);
});
