/**
 * What the daemon sees of metrics: start it from the config, feed it every log event and every finished pass,
 * close it on stop. The daemon imports this file only when `metrics` is configured, so prom-client and the
 * server cost nothing otherwise.
 */
import type { Config } from "../config/config.js";
import { backoffDelay } from "../core/backoff.js";
import { messageOf } from "../core/errors.js";
import type { MetricsState } from "../runtime/files.js";
import { isLoopback, parseListen } from "../config/listen.js";
import type { LogEvent } from "../log/logger.js";
import type { PassResult } from "../pass/pass.js";
import { collectStatus } from "../report/collect-status.js";
import type { FleetReading } from "../fleet/published.js";
import { Metrics } from "./registry.js";
import { type MetricsServer, startMetricsServer } from "./server.js";

export interface MetricsObserver {
  observe(level: string, event: LogEvent, fields: Record<string, unknown>): void;
  passDone(result: PassResult | undefined): void;
  close(): Promise<void>;
}

export interface StartOptions {
  /** The current config (it changes on SIGHUP; the server keeps its address until a restart). */
  config: () => Config;
  env: NodeJS.ProcessEnv;
  daemon: () => unknown;
  log: (level: "info" | "warn", event: LogEvent, msg: string, fields: Record<string, unknown>) => void;
  /** A bind failure, logged once until it changes (the daemon's problem log). */
  problem: (msg: string, fields: Record<string, unknown>) => void;
  /** Arms the next bind attempt on the daemon's named timers, so stop cancels it. */
  retry: (delayMs: number, bind: () => void) => void;
  /** Whether the endpoint serves, and why not, for `status` and `doctor` (the state file). */
  serving: (state: MetricsState) => void;
  /** In fleet mode: what the daemon's member has read of the fleet (a scrape never calls etcd itself). */
  fleet?: () => FleetReading | undefined;
}

/** Binding again after a failure: soon for a port freed a moment later, at most every 5 minutes after that. */
const BIND_BACKOFF = { baseMs: 1_000, capMs: 5 * 60_000 };

/**
 * Starts metrics; a failure to bind (the port taken, by another user's process too) never stops the daemon: it
 * syncs on, says so once, and binds again with backoff until it can.
 */
export async function startMetrics(options: StartOptions): Promise<MetricsObserver> {
  const settings = options.config().metrics!;
  // The config schema has checked the address; a parse failure here would be a bug.
  const listen = parseListen(settings.listen);
  if (typeof listen === "string") throw new Error(`metrics.listen: ${listen}`);
  const metrics = new Metrics();
  let server: MetricsServer | undefined;
  let closed = false;
  let failures = 0;
  const bind = async (): Promise<void> => {
    try {
      server = await startMetricsServer(listen, {
        metrics,
        status: () => collectStatus(options.config(), options.env, () => Promise.resolve(options.fleet?.())),
        daemon: options.daemon,
        allowRemote: settings.allowRemote,
      });
    } catch (err) {
      failures++;
      const why = messageOf(err);
      const msg = `${why}; syncing goes on without metrics, and binding is retried`;
      options.problem(msg, { listen: settings.listen, error: why });
      options.serving({ listen: settings.listen, serving: false, why, failures });
      options.retry(backoffDelay(failures, BIND_BACKOFF), () => void bind());
      return;
    }
    if (closed) return server.close();
    const { host, port } = server.address;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    if (isLoopback(listen.host)) {
      options.log("info", "metrics.listening", `serving ${url}/metrics and ${url}/healthz`, { host, port });
    } else {
      const msg = `serving ${url}/metrics and ${url}/healthz to other hosts (metrics.allowRemote), with no login`;
      options.log("warn", "metrics.listening", msg, { host, port, remote: true });
    }
    options.serving({ listen: settings.listen, serving: true, url });
  };
  await bind();
  return {
    observe: (level, event, fields) => {
      try {
        metrics.observe(level, event, fields);
      } catch {
        // A metric must never break the daemon's logging.
      }
    },
    passDone: (result) => metrics.passDone(result),
    close: async () => {
      closed = true;
      await server?.close();
    },
  };
}
