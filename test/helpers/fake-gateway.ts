/**
 * A stand-in for a running gateway's WebSocket RPC on 127.0.0.1, speaking its frames as openclaw@2026.9.6 does
 * (the `connect.challenge` event, `connect`, then requests; checked against the real gateway in
 * interop/openclaw-2026.9.6-turns.test.ts). It records every request and answers `models.authRefresh` as told.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { Socket } from "node:net";

export interface GatewayRequest {
  method: string;
  params: Record<string, any>;
}

export interface FakeGatewayOptions {
  /** The shared token `connect` must carry; undefined accepts any. */
  token?: string;
  /** The answer to a request, `ok` with `{ refreshed: true }` unless this says otherwise. */
  answer?: (request: GatewayRequest) => { ok: true; payload?: unknown } | { ok: false; error: Record<string, unknown> };
  /** Never answer `connect` (a hung gateway). */
  silent?: boolean;
}

export interface FakeGateway {
  port: number;
  /** Every request after `connect`, in order. */
  requests: GatewayRequest[];
  /** Every `connect` request's params. */
  connects: Array<Record<string, any>>;
  /** How many connections were upgraded. */
  connections: number;
  close(): Promise<void>;
}

/** A server frame: unmasked. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  if (length < 126) header[1] = length;
  else if (length < 65536) {
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Client frames from `buf` (masked, as a client must send them); the rest stays for more bytes. */
function clientFrames(buf: Buffer): { frames: Array<{ opcode: number; payload: Buffer }>; rest: Buffer } {
  const frames: Array<{ opcode: number; payload: Buffer }> = [];
  let offset = 0;
  for (;;) {
    if (buf.length - offset < 2) break;
    const opcode = buf[offset]! & 0x0f;
    if ((buf[offset + 1]! & 0x80) === 0) throw new Error("a client frame must be masked");
    let length = buf[offset + 1]! & 0x7f;
    let at = offset + 2;
    if (length === 126) {
      if (buf.length < at + 2) break;
      length = buf.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      if (buf.length < at + 8) break;
      length = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    if (buf.length < at + 4 + length) break;
    const mask = buf.subarray(at, at + 4);
    const payload = Buffer.from(buf.subarray(at + 4, at + 4 + length));
    for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!;
    frames.push({ opcode, payload });
    offset = at + 4 + length;
  }
  return { frames, rest: buf.subarray(offset) };
}

export async function startFakeGateway(options: FakeGatewayOptions = {}): Promise<FakeGateway> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426).end();
  });
  const sockets = new Set<Socket>();
  const gateway: FakeGateway = {
    port: 0,
    requests: [],
    connects: [],
    connections: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on("upgrade", (req, socket: Socket) => {
    sockets.add(socket);
    gateway.connections++;
    const key = String(req.headers["sec-websocket-key"]);
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const send = (value: unknown) => socket.write(serverFrame(1, Buffer.from(JSON.stringify(value))));
    // An event before the challenge, as a real gateway may send: a client must pass over it.
    send({ type: "event", event: "tick", payload: {} });
    send({ type: "event", event: "connect.challenge", payload: { nonce: "n-1", ts: Date.now(), capabilities: [] } });
    let buffered: Buffer = Buffer.alloc(0);
    let connected = false;
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    socket.on("data", (chunk: Buffer) => {
      const { frames, rest } = clientFrames(Buffer.concat([buffered, chunk]));
      buffered = rest;
      for (const { opcode, payload } of frames) {
        if (opcode === 8) {
          socket.end(serverFrame(8, payload.subarray(0, 2)));
          return;
        }
        if (opcode !== 1) continue;
        const frame = JSON.parse(payload.toString("utf8")) as { id: string; method: string; params: any };
        if (frame.method === "connect") {
          gateway.connects.push(frame.params);
          if (options.silent) continue;
          if (options.token !== undefined && frame.params?.auth?.token !== options.token) {
            const message = "unauthorized: gateway token mismatch (provide gateway auth token)";
            send({ type: "res", id: frame.id, ok: false, error: { code: "INVALID_REQUEST", message } });
            socket.end(serverFrame(8, Buffer.from([0x03, 0xf0])));
            return;
          }
          connected = true;
          send({ type: "res", id: frame.id, ok: true, payload: { type: "hello-ok", protocol: 4 } });
          continue;
        }
        if (!connected) continue;
        const request = { method: frame.method, params: frame.params };
        gateway.requests.push(request);
        const answer = options.answer?.(request) ?? { ok: true as const, payload: { refreshed: true } };
        send({ type: "event", event: "health", payload: {} });
        send({ type: "res", id: frame.id, ...answer });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  gateway.port = (server.address() as { port: number }).port;
  return gateway;
}

/** A port on 127.0.0.1 where nothing listens: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
