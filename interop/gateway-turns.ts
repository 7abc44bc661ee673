/**
 * Real agent turns on the real gateway: `openclaw gateway run` on a free loopback port and a temp state dir, its
 * Anthropic provider pointed at a stand-in for the Messages API on 127.0.0.1, and turns run through the
 * gateway's own CLI (`openclaw agent`), as a user's would be. The stand-in records which token each request
 * carried, by digest only, and answers as Anthropic does: 401 to a token it was not given, 429 with the
 * long-window wording ("usage limit") to one it is told is limited, which makes the gateway fail over and record a
 * cooldown (a plain 429 is retried on the same profile).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { type Gateway, runGateway } from "./gateway.js";

/** The model every turn asks for; the stand-in serves any. */
export const TURN_MODEL = "claude-sonnet-4-6";
/** The gateway's own shared secret in these tests: not a credential of anyone's, but kept out of output all the same. */
export const GATEWAY_TOKEN = "interop-gateway-token-5c1d7e9a2b4f6a8c0e1f3a5b";

export const digest = (token: string) => createHash("sha256").update(token).digest("hex");

export interface ApiRequest {
  /** sha256 of the token in `Authorization: Bearer` or `x-api-key`. */
  digest: string;
  model: string | undefined;
  status: number;
}

export interface StandIn {
  port: number;
  /** Every request, in order. */
  requests: ApiRequest[];
  accept(token: string): void;
  /** Answers this token's requests with a long-window 429 until `accept`ed again. */
  limit(token: string): void;
  close(): Promise<void>;
}

/** The Anthropic Messages API as far as a turn needs it: a streamed "pong" for a token it accepts. */
export async function startStandIn(): Promise<StandIn> {
  const accepted = new Set<string>();
  const limited = new Set<string>();
  const requests: ApiRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
      const token = bearer ?? String(req.headers["x-api-key"] ?? "");
      let body: { model?: string; stream?: boolean } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
      } catch {
        // Answered as any request.
      }
      const answer = (status: number, type: string, message: string) => {
        requests.push({ digest: digest(token), model: body.model, status });
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ type: "error", error: { type, message } }));
      };
      if (limited.has(digest(token))) {
        const message = "You have reached your usage limit for this period. Your limit resets in 5 hours.";
        return answer(429, "rate_limit_error", message);
      }
      if (!accepted.has(digest(token))) return answer(401, "authentication_error", "invalid x-api-key");
      requests.push({ digest: digest(token), model: body.model, status: 200 });
      const message = { id: "msg_interop", type: "message", role: "assistant", model: body.model, content: [] };
      const usage = { input_tokens: 3, output_tokens: 1 };
      if (!body.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        const text = [{ type: "text", text: "pong" }];
        res.end(JSON.stringify({ ...message, content: text, stop_reason: "end_turn", stop_sequence: null, usage }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      const event = (type: string, data: Record<string, unknown>) =>
        res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      event("message_start", { message: { ...message, stop_reason: null, stop_sequence: null, usage } });
      event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      event("content_block_delta", { index: 0, delta: { type: "text_delta", text: "pong" } });
      event("content_block_stop", { index: 0 });
      event("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 1 } });
      event("message_stop", {});
      res.end();
    });
  });
  // Strictly loopback: the tokens it sees are test tokens, but nothing else may reach it.
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    requests,
    accept: (token) => {
      accepted.add(digest(token));
      limited.delete(digest(token));
    },
    limit: (token) => limited.add(digest(token)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The gateway config a turn needs, merged into what the gateway's own commands wrote: the gateway on `port` with
 * its shared token, the Anthropic provider at the stand-in, the default model, the order of the Anthropic profiles
 * when given (`auth.order`), and its log file in the test's folder.
 */
export function configureGateway(
  stateDir: string,
  root: string,
  port: number,
  standIn: StandIn,
  order?: readonly string[],
): void {
  const file = path.join(stateDir, "openclaw.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, any>;
  config.gateway = { mode: "local", port, bind: "loopback", auth: { mode: "token", token: GATEWAY_TOKEN } };
  const model = { id: TURN_MODEL, name: TURN_MODEL, reasoning: false, input: ["text"], contextWindow: 200_000 };
  const anthropic = { baseUrl: `http://127.0.0.1:${standIn.port}`, api: "anthropic-messages", models: [model] };
  config.models = { ...config.models, providers: { ...config.models?.providers, anthropic } };
  config.agents = {
    ...config.agents,
    defaults: { ...config.agents?.defaults, model: { primary: `anthropic/${TURN_MODEL}` } },
  };
  config.logging = { ...config.logging, file: path.join(root, "gateway.log") };
  if (order) config.auth = { ...config.auth, order: { ...config.auth?.order, anthropic: order } };
  writeFileSync(file, JSON.stringify(config, null, 2));
}

export interface RunningGateway {
  /** Everything it printed so far. */
  output(): string;
  /** How long it took from spawn to its "[gateway] ready" line. */
  readyMs: number;
  stop(): Promise<void>;
}

const READY = /\[gateway\] ready\b/;

/** `openclaw gateway run` on the state dir, in a process group of its own; resolves at its "[gateway] ready" line. */
export function startGateway(
  gateway: Gateway,
  stateDir: string,
  home: string,
  timeoutMs: number,
): Promise<RunningGateway> {
  const started = Date.now();
  const env = { PATH: process.env.PATH, HOME: home, OPENCLAW_STATE_DIR: stateDir, NO_COLOR: "1" };
  const child: ChildProcess = spawn(gateway.node, [gateway.entry, "gateway", "run"], {
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // Its own process group: the gateway and the helpers it spawned, and nothing else.
    process.kill(-child.pid!, "SIGTERM");
    const killed = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 60_000);
    await exited;
    clearTimeout(killed);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the gateway was not ready within ${timeoutMs} ms:\n${output.slice(-3000)}`));
    }, timeoutMs);
    const seen = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (READY.test(output)) {
        clearTimeout(timer);
        resolve({ output: () => output, readyMs: Date.now() - started, stop });
      }
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code ?? signal}) before it was ready:\n${output.slice(-3000)}`));
    });
  });
}

export interface Turn {
  /** The JSON the gateway's CLI printed. */
  result: { status?: string; result?: { payloads?: Array<{ text?: string }> } };
  /** The stand-in's requests during this turn. */
  requests: ApiRequest[];
  ms: number;
}

/** One agent turn through the running gateway, by its own CLI; what the stand-in saw during it. */
export async function agentTurn(gateway: Gateway, stateDir: string, home: string, standIn: StandIn, agent = "main") {
  const before = standIn.requests.length;
  const started = Date.now();
  const args = ["agent", "--agent", agent, "--message", "ping", "--json", "--timeout", "300"];
  const { stdout } = await runGateway(gateway, args, stateDir, home);
  const turn: Turn = {
    result: JSON.parse(stdout) as Turn["result"],
    requests: standIn.requests.slice(before),
    ms: Date.now() - started,
  };
  return turn;
}
