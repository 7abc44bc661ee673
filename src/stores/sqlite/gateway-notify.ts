/**
 * Tells a running SQLite-era gateway to re-read the auth stores we wrote. It keeps them in memory and re-reads
 * them only after its own writes, or when told over its RPC `models.authRefresh`, which its own CLI calls after
 * every auth write (2026.9.6: `refreshRunningGatewayAuthState`). We make the same call the same way: a WebSocket
 * to the local loopback (gateway-address.ts), the `connect.challenge` event, a `connect` request as a backend
 * client with the shared token or password and the `operator.admin` scope, then one request per agent changed.
 * A gateway that is not running has nothing to re-read; any other failure leaves our write standing and is
 * reported in one line, with the command that makes the gateway read it.
 */
import { randomUUID } from "node:crypto";
import { escapeControl } from "../../core/terminal-text.js";
import { messageOf } from "../../core/errors.js";
import type { GatewayReload, ReloadRequest } from "../adapter.js";
import { type AddressResult, type GatewayAddress, gatewayAddress } from "./gateway-address.js";
import { runningGatewayOwner } from "./gateway-instance.js";
import { type TextSocket, SocketError, openTextSocket } from "./websocket.js";

/** What to run when the gateway could not be told: its own message says the same. */
export const RELOAD_FIX = "openclaw gateway restart";

/** The CLI waits 3 s for the whole call; a gateway busy with a turn may need longer, and our write stands anyway. */
export const RELOAD_TIMEOUT_MS = 10_000;
/** Requests in flight on the one connection: a gateway with many agents is not flooded. */
const IN_FLIGHT = 8;
/** Refused: nothing listens there. The CLI reports nothing either. */
const NOT_LISTENING = new Set(["ECONNREFUSED"]);

interface Frame {
  type?: unknown;
  event?: unknown;
  id?: unknown;
  ok?: unknown;
  payload?: unknown;
  error?: { code?: unknown; message?: unknown; details?: { code?: unknown } };
}

export interface ReloadOptions {
  timeoutMs?: number;
  /** Resolves the address; the default reads it from the gateway config as the gateway's CLI does. */
  address?: AddressResult;
}

/** Tells the gateway of `stateDir` (config `config`) to re-read the stores of `requests`' agents, once each. */
export async function reloadGateway(
  config: Record<string, unknown> | undefined,
  stateDir: string,
  requests: readonly ReloadRequest[],
  env: NodeJS.ProcessEnv = process.env,
  options: ReloadOptions = {},
): Promise<GatewayReload> {
  const told = await tell(config, stateDir, requests, env, options);
  if (told.result !== "not-reloaded") return { dir: stateDir, ...told };
  const owner = await runningGatewayOwner(stateDir);
  return { dir: stateDir, ...told, ...(owner ? { owner } : {}) };
}

type Told =
  | { result: "reloaded"; agents: string[] }
  | { result: "not-running" }
  | { result: "not-reloaded"; agents: string[]; reason: string };

async function tell(
  config: Record<string, unknown> | undefined,
  stateDir: string,
  requests: readonly ReloadRequest[],
  env: NodeJS.ProcessEnv,
  options: ReloadOptions,
): Promise<Told> {
  const agents = requests.map((r) => r.agentId);
  if (requests.length === 0) return { result: "reloaded", agents };
  const timeoutMs = options.timeoutMs ?? RELOAD_TIMEOUT_MS;
  const found = options.address ?? gatewayAddress(config, stateDir, env);
  if (found.kind === "remote") return { result: "not-running" };
  const where = `the gateway at 127.0.0.1:${found.kind === "local" ? found.address.port : found.port}`;
  if (found.kind === "unreachable") {
    // Without a secret we cannot call; whether one runs is all we can learn, from the upgrade alone.
    const probe = await openTextSocket(`ws://127.0.0.1:${found.port}`, { timeoutMs }).then(
      (socket) => (socket.close(), undefined),
      (err: unknown) => err,
    );
    if (probe instanceof SocketError && probe.errno && NOT_LISTENING.has(probe.errno)) return { result: "not-running" };
    return { result: "not-reloaded", agents, reason: `${where} cannot be told: ${found.problem}` };
  }
  let socket: TextSocket;
  try {
    socket = await openTextSocket(found.address.url, {
      timeoutMs,
      ...(found.address.fingerprint256 ? { fingerprint256: found.address.fingerprint256 } : {}),
    });
  } catch (err) {
    if (err instanceof SocketError && err.errno && NOT_LISTENING.has(err.errno)) return { result: "not-running" };
    return { result: "not-reloaded", agents, reason: clean(messageOf(err), found.address) };
  }
  try {
    return await converse(socket, found.address, requests, timeoutMs);
  } catch (err) {
    return { result: "not-reloaded", agents, reason: `${where}: ${clean(messageOf(err), found.address)}` };
  } finally {
    socket.close();
  }
}

async function converse(
  socket: TextSocket,
  address: GatewayAddress,
  requests: readonly ReloadRequest[],
  timeoutMs: number,
): Promise<Told> {
  const next = async (): Promise<Frame> => {
    const text = await socket.receive(timeoutMs);
    try {
      const frame = JSON.parse(text) as Frame | null;
      if (typeof frame === "object" && frame !== null) return frame;
    } catch {
      // Reported below.
    }
    throw new Error("it sent something other than a gateway frame");
  };
  const send = (id: string, method: string, params: Record<string, unknown>) =>
    socket.send(JSON.stringify({ type: "req", id, method, params }));

  // The gateway speaks first: a challenge with a nonce, which only a paired device signs (we send no device).
  let first = await next();
  while (!(first.type === "event" && first.event === "connect.challenge")) first = await next();
  send("connect", "connect", {
    minProtocol: 4,
    maxProtocol: 4,
    client: {
      id: "gateway-client",
      displayName: "moltbot-auth-sync",
      version: "moltbot-auth-sync",
      platform: process.platform,
      mode: "backend",
      instanceId: randomUUID(),
    },
    caps: [],
    auth: address.auth,
    role: "operator",
    scopes: ["operator.admin"],
  });
  const hello = await answerTo("connect", next);
  if (hello.ok !== true) throw new Error(`it refused the connection: ${errorText(hello, address)}`);

  const reloaded: string[] = [];
  const problems: string[] = [];
  const pending = new Map<string, { request: ReloadRequest; fallback: boolean }>();
  let sent = 0;
  const dispatch = () => {
    while (pending.size < IN_FLIGHT && sent < requests.length) {
      const request = requests[sent]!;
      const id = `reload:${sent++}`;
      pending.set(id, { request, fallback: false });
      send(id, "models.authRefresh", { operation: request.operation, agentId: request.agentId });
    }
  };
  dispatch();
  while (pending.size > 0) {
    const frame = await next();
    if (frame.type !== "res" || typeof frame.id !== "string" || !pending.has(frame.id)) continue;
    const { request, fallback } = pending.get(frame.id)!;
    pending.delete(frame.id);
    if (frame.ok === true) reloaded.push(request.agentId);
    else if (frame.error?.details?.code === "UNKNOWN_AGENT_ID") {
      // An agent the running gateway does not serve (not in its config) has nothing in its memory to re-read.
    } else if (!fallback && frame.error?.message === "unknown method: models.authRefresh") {
      // A gateway older than the method: its CLI asks for a refreshed auth status instead, which re-reads too.
      const id = `${frame.id}:status`;
      pending.set(id, { request, fallback: true });
      send(id, "models.authStatus", { refresh: true, agentId: request.agentId });
    } else problems.push(`${request.agentId}: ${errorText(frame, address)}`);
    dispatch();
  }
  if (problems.length === 0) return { result: "reloaded", agents: reloaded };
  const failed = requests.map((r) => r.agentId).filter((id) => !reloaded.includes(id));
  return { result: "not-reloaded", agents: failed, reason: `${address.url} answered ${problems.join("; ")}` };
}

/** The response to request `id`; events and other responses in between are passed over. */
async function answerTo(id: string, next: () => Promise<Frame>): Promise<Frame> {
  for (;;) {
    const frame = await next();
    if (frame.type === "res" && frame.id === id) return frame;
  }
}

function errorText(frame: Frame, address: GatewayAddress): string {
  const code = typeof frame.error?.code === "string" ? frame.error.code : "error";
  const message = typeof frame.error?.message === "string" ? frame.error.message : "no message";
  return clean(`${code} ${message}`, address);
}

/** Text from the gateway or the socket, safe to print: one line, short, and without our secrets in it. */
function clean(text: string, address: GatewayAddress): string {
  let out = text;
  // A secret of a few characters would mangle the text and is no secret to speak of.
  for (const secret of [address.auth.token, address.auth.password]) {
    if (secret && secret.length >= 4) out = out.split(secret).join("(secret)");
  }
  out = escapeControl(out);
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}
