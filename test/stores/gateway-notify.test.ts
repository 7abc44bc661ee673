/**
 * Telling a running SQLite-era gateway to re-read its stores: the address and secret as its CLI finds them, the
 * frames as its CLI sends them (against a stand-in speaking the real gateway's protocol, test/helpers/
 * fake-gateway.ts), and every way it can fail without losing our write or printing a secret.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { DEFAULT_GATEWAY_PORT, gatewayAddress, gatewayPort } from "../../src/stores/sqlite/gateway-address.js";
import { reloadGateway } from "../../src/stores/sqlite/gateway-notify.js";
import { frame, openTextSocket, readFrame } from "../../src/stores/sqlite/websocket.js";
import { closedPort, startFakeGateway } from "../helpers/fake-gateway.js";

const SECRET = "gw-7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b";
const login = (agentId: string) => ({ agentId, operation: "login" as const });
const config = (port: number, auth: Record<string, unknown> = { token: SECRET }) => ({ gateway: { port, auth } });

test("reload: one connection, the CLI's connect frame, one models.authRefresh per agent, each once", async () => {
  const gateway = await startFakeGateway({ token: SECRET });
  try {
    const requests = [login("main"), { agentId: "work", operation: "update" as const }];
    const result = await reloadGateway(config(gateway.port), "/nonexistent-state", requests, {});
    assert.deepEqual(result, { dir: "/nonexistent-state", result: "reloaded", agents: ["main", "work"] });
    assert.equal(gateway.connections, 1);
    const [connect] = gateway.connects;
    assert.deepEqual(
      { ...connect, client: { ...connect!.client, instanceId: "…" } },
      {
        minProtocol: 4,
        maxProtocol: 4,
        client: {
          id: "gateway-client",
          displayName: "moltbot-auth-sync",
          version: "moltbot-auth-sync",
          platform: process.platform,
          mode: "backend",
          instanceId: "…",
        },
        caps: [],
        auth: { token: SECRET },
        role: "operator",
        scopes: ["operator.admin"],
      },
    );
    assert.deepEqual(gateway.requests, [
      { method: "models.authRefresh", params: { operation: "login", agentId: "main" } },
      { method: "models.authRefresh", params: { operation: "update", agentId: "work" } },
    ]);
  } finally {
    await gateway.close();
  }
});

test("reload: a refused secret leaves the write standing, named in one line without the secret", async () => {
  const gateway = await startFakeGateway({ token: "another-secret-entirely" });
  try {
    const result = await reloadGateway(config(gateway.port), "/s", [login("main")], {});
    assert.equal(result.result, "not-reloaded");
    assert.ok(result.result === "not-reloaded");
    assert.deepEqual(result.agents, ["main"]);
    assert.match(result.reason, /refused the connection: INVALID_REQUEST unauthorized: gateway token mismatch/);
    assert.doesNotMatch(result.reason, new RegExp(SECRET));
    assert.doesNotMatch(result.reason, /\n/);
    assert.deepEqual(gateway.requests, [], "nothing requested before a hello");
  } finally {
    await gateway.close();
  }
});

test("reload: nothing listening means no gateway runs: nothing to tell, with or without a secret", async () => {
  const port = await closedPort();
  assert.deepEqual(await reloadGateway(config(port), "/s", [login("main")], {}), { dir: "/s", result: "not-running" });
  assert.deepEqual(await reloadGateway({ gateway: { port } }, "/s", [login("main")], {}), {
    dir: "/s",
    result: "not-running",
  });
});

test("reload: a gateway runs but we hold no secret for it: one line saying which, and no request", async () => {
  const gateway = await startFakeGateway();
  try {
    const result = await reloadGateway({ gateway: { port: gateway.port } }, "/s", [login("main")], {});
    assert.ok(result.result === "not-reloaded");
    assert.match(result.reason, /cannot be told: neither gateway\.auth\.token nor OPENCLAW_GATEWAY_TOKEN is set here/);
    assert.deepEqual(gateway.connects, [], "no connect without a secret");
    const ref = { token: { source: "file", provider: "default", id: "/run/secret" } };
    const fileRef = await reloadGateway(config(gateway.port, ref), "/s", [login("main")], {});
    assert.ok(fileRef.result === "not-reloaded");
    assert.match(fileRef.reason, /gateway\.auth\.token is a "file" secret reference.*set OPENCLAW_GATEWAY_TOKEN/);
  } finally {
    await gateway.close();
  }
});

test("reload: a remote gateway (gateway.mode remote) is not ours to tell; nothing is dialled", async () => {
  const gateway = await startFakeGateway();
  try {
    const remote = { gateway: { mode: "remote", port: gateway.port, auth: { token: SECRET } } };
    assert.deepEqual(await reloadGateway(remote, "/s", [login("main")], {}), { dir: "/s", result: "not-running" });
    assert.equal(gateway.connections, 0);
  } finally {
    await gateway.close();
  }
});

test("reload: an agent the gateway does not serve is passed over; an older gateway is asked for a refreshed status", async () => {
  const gateway = await startFakeGateway({
    answer: ({ method, params }) => {
      if (params.agentId === "gone")
        return {
          ok: false,
          error: { code: "INVALID_REQUEST", message: 'unknown agent id "gone"', details: { code: "UNKNOWN_AGENT_ID" } },
        };
      if (method === "models.authRefresh" && params.agentId === "old")
        return { ok: false, error: { code: "INVALID_REQUEST", message: "unknown method: models.authRefresh" } };
      if (params.agentId === "broken") return { ok: false, error: { code: "UNAVAILABLE", message: "store busy" } };
      return { ok: true, payload: {} };
    },
  });
  try {
    const result = await reloadGateway(config(gateway.port), "/s", [login("main"), login("gone"), login("old")], {});
    assert.deepEqual(result, { dir: "/s", result: "reloaded", agents: ["main", "old"] });
    assert.deepEqual(
      gateway.requests.filter((r) => r.params.agentId === "old"),
      [
        { method: "models.authRefresh", params: { operation: "login", agentId: "old" } },
        { method: "models.authStatus", params: { refresh: true, agentId: "old" } },
      ],
    );
    const failed = await reloadGateway(config(gateway.port), "/s", [login("main"), login("broken")], {});
    assert.ok(failed.result === "not-reloaded");
    assert.deepEqual(failed.agents, ["broken"]);
    assert.match(failed.reason, /answered broken: UNAVAILABLE store busy$/);
  } finally {
    await gateway.close();
  }
});

test("reload: a gateway that never answers is given up on after the timeout, the write standing", async () => {
  const gateway = await startFakeGateway({ silent: true });
  try {
    const result = await reloadGateway(config(gateway.port), "/s", [login("main")], {}, { timeoutMs: 200 });
    assert.ok(result.result === "not-reloaded");
    assert.match(result.reason, /no answer from the gateway within 200 ms/);
  } finally {
    await gateway.close();
  }
});

test("address: the port as the CLI picks it (env, config, named profile, default) and the secret config first", () => {
  assert.equal(gatewayPort(undefined, {}), DEFAULT_GATEWAY_PORT);
  assert.equal(gatewayPort({ port: 19001 }, {}), 19001);
  assert.equal(gatewayPort({ port: 19001 }, { OPENCLAW_GATEWAY_PORT: "19002" }), 19002);
  assert.equal(gatewayPort({ port: 19001 }, { OPENCLAW_GATEWAY_PORT: "127.0.0.1:19003" }), 19003);
  assert.equal(gatewayPort({ port: 19001 }, { OPENCLAW_GATEWAY_PORT: "[::1]:19004" }), 19004);
  assert.equal(gatewayPort({ port: 19001 }, { OPENCLAW_GATEWAY_PORT: "nonsense" }), 19001);
  assert.equal(gatewayPort({ port: 0 }, {}), DEFAULT_GATEWAY_PORT);
  // FNV-1a of the profile name, as the gateway derives a named profile's port.
  let hash = 2166136261;
  for (const byte of Buffer.from("work")) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
  assert.equal(gatewayPort(undefined, { OPENCLAW_PROFILE: "work" }), 20000 + (hash % 40000));
  assert.equal(gatewayPort(undefined, { OPENCLAW_PROFILE: "default" }), DEFAULT_GATEWAY_PORT);

  const auth = (gateway: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
    const found = gatewayAddress({ gateway }, "/s", env);
    return found.kind === "local" ? found.address.auth : found;
  };
  assert.deepEqual(auth({ auth: { token: "config" } }, { OPENCLAW_GATEWAY_TOKEN: "env" }), { token: "config" });
  assert.deepEqual(auth({}, { OPENCLAW_GATEWAY_TOKEN: "env" }), { token: "env" });
  assert.deepEqual(auth({ auth: { token: "${GW_TOKEN}" } }, { GW_TOKEN: "substituted" }), { token: "substituted" });
  assert.deepEqual(auth({ auth: { token: { source: "env", provider: "default", id: "GW" } } }, { GW: "ref" }), {
    token: "ref",
  });
  assert.deepEqual(auth({ auth: { mode: "password", password: "pw" } }), { password: "pw" });
  assert.deepEqual(auth({ auth: { password: "pw" } }), { password: "pw" }, "a password alone means password mode");
  assert.deepEqual(auth({ auth: { mode: "none" } }), {});
  assert.deepEqual(auth({ remote: { token: "remote" } }), { token: "remote" }, "the remote token as a fallback");
  const unset = auth({ auth: { token: "${GW_TOKEN}" } });
  assert.equal((unset as { kind: string }).kind, "unreachable", "a placeholder left standing is no secret");
  const proxy = auth({ auth: { mode: "trusted-proxy" } }) as { kind: string; problem: string };
  assert.match(proxy.problem, /auth mode "trusted-proxy" takes no shared token or password/);
});

test("websocket: frames in and out as RFC 6455 has them (masked out, fragmented and 64-bit lengths in)", () => {
  const mask = Buffer.from([1, 2, 3, 4]);
  const out = frame(1, Buffer.from("hi"), mask);
  assert.deepEqual([...out], [0x81, 0x82, 1, 2, 3, 4, "h".charCodeAt(0) ^ 1, "i".charCodeAt(0) ^ 2]);
  assert.equal(frame(1, Buffer.alloc(70_000)).readUInt16BE(0), 0x81ff, "64-bit length above 65535");
  const big = Buffer.concat([Buffer.from([0x81, 127]), Buffer.alloc(8), Buffer.alloc(0)]);
  big.writeBigUInt64BE(3n, 2);
  assert.equal(readFrame(big), "incomplete");
  const whole = readFrame(Buffer.concat([big, Buffer.from("abc")]));
  assert.ok(typeof whole === "object" && "payload" in whole);
  assert.equal(whole.payload.toString(), "abc");
  assert.deepEqual(readFrame(Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0])), { problem: "the gateway sent a masked frame" });
  const huge = Buffer.from([0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0]);
  assert.deepEqual(readFrame(huge), { problem: "a message from the gateway is too large" });
  const first = readFrame(Buffer.from([0x01, 0x01, 0x61]));
  assert.ok(typeof first === "object" && "fin" in first && !first.fin, "a first fragment, more to come");
});

test("websocket: wss is pinned to the gateway's own certificate; another one gets nothing but the upgrade", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mas-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const make = (name: string) => {
    const [key, cert] = [path.join(dir, `${name}-key.pem`), path.join(dir, `${name}-cert.pem`)];
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
      ]),
      { stdio: "ignore" },
    );
    return { key, cert };
  };
  const own = make("own");
  const other = make("other");
  const upgrades: string[] = [];
  const server = https.createServer({ key: readFileSync(own.key), cert: readFileSync(own.cert) });
  server.on("upgrade", (req, socket) => {
    upgrades.push(String(req.headers["sec-websocket-key"]));
    const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${accept.digest("base64")}\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const stateDir = path.join(dir, "state");
  const tlsConfig = (cert: string) => ({
    gateway: { port, auth: { token: SECRET }, tls: { enabled: true, certPath: cert } },
  });
  const found = gatewayAddress(tlsConfig(own.cert), stateDir, {});
  assert.ok(found.kind === "local");
  assert.equal(found.address.url, `wss://127.0.0.1:${port}`);
  const socket = await openTextSocket(found.address.url, {
    timeoutMs: 10_000,
    fingerprint256: found.address.fingerprint256!,
  });
  socket.close();
  const wrong = gatewayAddress(tlsConfig(other.cert), stateDir, {});
  assert.ok(wrong.kind === "local");
  await assert.rejects(
    openTextSocket(wrong.address.url, { timeoutMs: 10_000, fingerprint256: wrong.address.fingerprint256! }),
    /presented a certificate other than the gateway's own/,
  );
  const missing = gatewayAddress({ gateway: { port, auth: { token: SECRET }, tls: { enabled: true } } }, stateDir, {});
  assert.ok(missing.kind === "unreachable");
  assert.match(missing.problem, /its TLS certificate .*gateway\/tls\/gateway-cert\.pem cannot be read \(ENOENT\)/);
});
