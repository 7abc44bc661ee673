/**
 * A WebSocket client just large enough for the gateway's RPC (gateway-notify.ts): Node 20 has no global
 * WebSocket without a flag, and the gateway's own client is the `ws` package. RFC 6455 as that exchange needs
 * it: one HTTP upgrade, masked text frames out; text, ping and close frames in; no extension is offered, so
 * none is ever negotiated.
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { AuthSyncError, errnoCode } from "../../core/errors.js";

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** The gateway's hello lists its methods (tens of KB); anything near this is not the gateway. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A failure of the socket itself; `code` is the errno of a refused or reset connection, when there was one. */
export class SocketError extends AuthSyncError {
  constructor(
    message: string,
    readonly errno?: string,
  ) {
    super(message, "gateway.socket");
  }
}

export interface TextSocket {
  send(text: string): void;
  /** The next text message; rejects when none came within `timeoutMs` or the socket closed or failed. */
  receive(timeoutMs: number): Promise<string>;
  close(): void;
}

export interface OpenOptions {
  timeoutMs: number;
  /**
   * For `wss:`, the SHA-256 fingerprint (`AA:BB:…`, as node:crypto's X509Certificate prints it) the server's
   * certificate must have: the gateway's certificate is self-signed, so it is pinned, not verified by a CA.
   * Checked before anything but the upgrade request is sent.
   */
  fingerprint256?: string;
}

/** Opens a socket to `url` (`ws:` or `wss:`) and completes the upgrade. */
export function openTextSocket(url: string, options: OpenOptions): Promise<TextSocket> {
  const target = new URL(url);
  const secure = target.protocol === "wss:";
  const key = randomBytes(16).toString("base64");
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request({
      host: target.hostname,
      port: target.port || (secure ? 443 : 80),
      path: `${target.pathname}${target.search}`,
      method: "GET",
      agent: false,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": key,
      },
      // Pinned below, on the certificate itself.
      ...(secure ? { rejectUnauthorized: false } : {}),
    });
    const fail = (err: Error) => {
      clearTimeout(timer);
      request.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new SocketError(`no WebSocket upgrade from ${url} within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    request.on("error", (err) => fail(new SocketError(`cannot reach ${url}: ${err.message}`, errnoCode(err))));
    request.on("response", (response) => {
      response.resume();
      fail(new SocketError(`${url} answered HTTP ${response.statusCode} instead of a WebSocket upgrade`));
    });
    request.on("upgrade", (response, socket: Socket, head: Buffer) => {
      clearTimeout(timer);
      const expected = createHash("sha1").update(`${key}${ACCEPT_GUID}`).digest("base64");
      if (response.headers["sec-websocket-accept"] !== expected) {
        socket.destroy();
        reject(new SocketError(`${url} answered the upgrade without a valid Sec-WebSocket-Accept`));
        return;
      }
      if (secure) {
        const seen = (socket as TLSSocket).getPeerCertificate().fingerprint256;
        if (!options.fingerprint256 || seen?.toUpperCase() !== options.fingerprint256.toUpperCase()) {
          socket.destroy();
          reject(new SocketError(`${url} presented a certificate other than the gateway's own`));
          return;
        }
      }
      resolve(textSocket(socket, head));
    });
    request.end();
  });
}

function textSocket(socket: Socket, head: Buffer): TextSocket {
  socket.setNoDelay(true);
  const inbox: string[] = [];
  const waiting: Array<{ resolve: (text: string) => void; reject: (err: Error) => void }> = [];
  let ended: Error | undefined;
  let buffered = head;
  let fragments: Buffer[] = [];
  let fragmentBytes = 0;

  const end = (err: Error, destroy = true) => {
    if (ended) return;
    ended = err;
    for (const w of waiting.splice(0)) w.reject(err);
    if (destroy) socket.destroy();
  };
  const write = (opcode: number, payload: Buffer) => {
    if (ended || socket.destroyed) return;
    socket.write(frame(opcode, payload));
  };
  const deliver = (text: string) => {
    const next = waiting.shift();
    if (next) next.resolve(text);
    else inbox.push(text);
  };

  const parse = () => {
    for (;;) {
      const parsed = readFrame(buffered);
      if (parsed === "incomplete") return;
      if ("problem" in parsed) return end(new SocketError(parsed.problem));
      buffered = buffered.subarray(parsed.size);
      const { opcode, fin, payload } = parsed;
      if (opcode === OP.ping) write(OP.pong, payload);
      else if (opcode === OP.close) {
        write(OP.close, payload.subarray(0, 2));
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
        const reason = payload.subarray(2).toString("utf8");
        return end(
          new SocketError(`the gateway closed the connection${code ? ` (${code}${reason ? ` ${reason}` : ""})` : ""}`),
        );
      } else if (opcode === OP.text || opcode === OP.binary || opcode === OP.continuation) {
        fragmentBytes += payload.length;
        if (fragmentBytes > MAX_MESSAGE_BYTES) return end(new SocketError("a message from the gateway is too large"));
        fragments.push(payload);
        if (fin) {
          const text = Buffer.concat(fragments).toString("utf8");
          fragments = [];
          fragmentBytes = 0;
          deliver(text);
        }
      }
    }
  };

  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    parse();
  });
  socket.on("error", (err) => end(new SocketError(`the gateway connection failed: ${err.message}`, errnoCode(err))));
  socket.on("close", () => end(new SocketError("the gateway closed the connection")));
  if (head.length) parse();

  return {
    send: (text) => write(OP.text, Buffer.from(text, "utf8")),
    receive(timeoutMs) {
      const ready = inbox.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      if (ended) return Promise.reject(ended);
      return new Promise((resolve, reject) => {
        const entry = {
          resolve: (text: string) => {
            clearTimeout(timer);
            resolve(text);
          },
          reject: (err: Error) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          reject(new SocketError(`no answer from the gateway within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.push(entry);
      });
    },
    close() {
      if (ended) return;
      const normal = Buffer.alloc(2);
      normal.writeUInt16BE(1000);
      write(OP.close, normal);
      // A clean close: our close frame is flushed before the FIN; the gateway answers with its own and hangs up.
      // One that does not is cut off shortly after, without keeping the process alive.
      socket.end();
      end(new SocketError("closed"), false);
      setTimeout(() => socket.destroy(), 1_000).unref();
    },
  };
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** Bytes the frame took in the buffer. */
  size: number;
}

/** One frame from the start of `buf`; "incomplete" when more bytes are needed; `problem` says what is wrong. */
export function readFrame(buf: Buffer): Frame | "incomplete" | { problem: string } {
  if (buf.length < 2) return "incomplete";
  const fin = (buf[0]! & 0x80) !== 0;
  if ((buf[0]! & 0x70) !== 0) return { problem: "the gateway sent a frame with reserved bits set" };
  const opcode = buf[0]! & 0x0f;
  const masked = (buf[1]! & 0x80) !== 0;
  let length = buf[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return "incomplete";
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return "incomplete";
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(MAX_MESSAGE_BYTES)) return { problem: "a message from the gateway is too large" };
    length = Number(big);
    offset = 10;
  }
  // A server never masks (RFC 6455 5.1); a masked frame is not the gateway speaking.
  if (masked) return { problem: "the gateway sent a masked frame" };
  if (buf.length < offset + length) return "incomplete";
  return { fin, opcode, payload: buf.subarray(offset, offset + length), size: offset + length };
}

/** A final client frame: masked, as RFC 6455 requires of a client. */
export function frame(opcode: number, payload: Buffer, mask: Buffer = randomBytes(4)): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  if (length < 126) header[1] = 0x80 | length;
  else if (length < 65536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const body = Buffer.alloc(length);
  for (let i = 0; i < length; i++) body[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, body]);
}
