/**
 * The HTTP server of `/metrics` and `/healthz`. Anything else is 404; a Host header we do not serve is 421.
 * It binds only when configured, answers each scrape from one status collection (concurrent scrapes share it),
 * and closes its connections at once on stop so it never holds the daemon up.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { AuthSyncError, messageOf } from "../core/errors.js";
import type { ListenAddress } from "../config/listen.js";
import type { StatusReport } from "../report/collect-status.js";
import { healthOf } from "./health.js";
import { hostAllowed } from "./host-header.js";
import type { Metrics } from "./registry.js";

/** A scrape that takes longer than this (a store locked, a hung keychain) is cut off. */
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * How long a scrape waits for a fresh status before it is answered from the last one collected: a store that
 * holds the reader (a SQLite child until its 15 s deadline) must not make the daemon look dead to a scraper.
 */
const FRESH_WAIT_MS = 3_000;

export interface ServerDeps {
  metrics: Metrics;
  /** A fresh status report; it may throw (no state dir). */
  status: () => Promise<StatusReport>;
  /** What the daemon says of itself, as `status --json` shows it. */
  daemon: () => unknown;
  /** `metrics.allowRemote`: any IP address is then a Host we answer (see hostAllowed). */
  allowRemote: boolean;
}

export interface MetricsServer {
  /** The address actually bound (port 0 picks a free one). */
  address: ListenAddress;
  close(): Promise<void>;
}

export async function startMetricsServer(listen: ListenAddress, deps: ServerDeps): Promise<MetricsServer> {
  let collecting: Promise<StatusReport | Error> | undefined;
  let last: Collected | undefined;
  const fresh = () =>
    (collecting ??= deps
      .status()
      .catch((err: unknown) => new Error(messageOf(err)))
      .then((report) => {
        last = { report, at: Date.now() };
        return report;
      })
      .finally(() => (collecting = undefined)));
  /** A fresh status, or the last one with its age when the fresh one is slow (or, before any, why not). */
  const status = async (): Promise<Collected> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const slow = new Promise<undefined>(
      (resolve) => (timer = setTimeout(() => resolve(undefined), FRESH_WAIT_MS).unref()),
    );
    const report = await Promise.race([fresh(), slow]).finally(() => clearTimeout(timer));
    if (report !== undefined) return { report };
    return last ?? { report: new Error(`the stores took over ${FRESH_WAIT_MS / 1000} s to read (see the log)`) };
  };

  let port = listen.port;
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Before anything is collected: a page under a rebound name learns nothing, not even whether we are healthy.
    if (!hostAllowed(req.headers.host, { listen, port, allowRemote: deps.allowRemote })) {
      return send(res, 421, "text/plain", "misdirected request: this Host is not served\n");
    }
    const pathname = (req.url ?? "").split("?")[0];
    const known = pathname === "/metrics" || pathname === "/healthz";
    if (!known || (req.method !== "GET" && req.method !== "HEAD")) return send(res, 404, "text/plain", "not found\n");
    const { report, at } = await status();
    const health = healthOf(report, deps.metrics.lastPass, deps.daemon());
    // The age of a status collected for an earlier scrape, so that neither reader takes it for a fresh one.
    const age = at === undefined ? {} : { "X-Status-Collected-At": new Date(at).toISOString() };
    if (pathname === "/healthz") {
      const body = at === undefined ? health.body : { ...health.body, statusCollectedAt: new Date(at).toISOString() };
      return send(res, health.healthy ? 200 : 503, "application/json", `${JSON.stringify(body, null, 2)}\n`, age);
    }
    send(res, 200, deps.metrics.contentType, await deps.metrics.render(report, health.healthy), age);
  };

  const server = createServer((req, res) => {
    answer(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, "text/plain", `error: ${messageOf(err)}\n`);
      else res.destroy();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS / 2;

  await new Promise<void>((resolve, reject) => {
    const where = listen.host.includes(":") ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
    server.once("error", (err) =>
      reject(new AuthSyncError(`metrics: cannot listen on ${where}: ${messageOf(err)}`, "metrics.listen")),
    );
    server.listen({ host: listen.host, port: listen.port }, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  port = bound.port;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A status report and, when it was collected for an earlier scrape, when that was. */
interface Collected {
  report: StatusReport | Error;
  at?: number;
}

function send(res: ServerResponse, code: number, type: string, body: string, headers = {}): void {
  const length = Buffer.byteLength(body);
  res.writeHead(code, { "Content-Type": type, "Cache-Control": "no-store", "Content-Length": length, ...headers });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
