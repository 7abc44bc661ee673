/**
 * What the daemon sees of metrics: start it from the config, feed it every log event and every finished pass,
 * close it on stop. The daemon imports this file only when `metrics` is configured, so prom-client and the
 * server cost nothing otherwise.
 */
import type { Config } from "../config/config.js";
import { isLoopback, parseListen } from "../config/listen.js";
import type { LogEvent } from "../log/logger.js";
import type { PassResult } from "../pass/pass.js";
import { collectStatus } from "../report/collect-status.js";
import { Metrics } from "./registry.js";
import { startMetricsServer } from "./server.js";

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
}

export async function startMetrics(options: StartOptions): Promise<MetricsObserver> {
  const settings = options.config().metrics!;
  // The config schema has checked the address; a parse failure here would be a bug.
  const listen = parseListen(settings.listen);
  if (typeof listen === "string") throw new Error(`metrics.listen: ${listen}`);
  const metrics = new Metrics();
  const server = await startMetricsServer(listen, {
    metrics,
    status: () => collectStatus(options.config(), options.env),
    daemon: options.daemon,
  });
  const { host, port } = server.address;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (isLoopback(listen.host)) {
    options.log("info", "metrics.listening", `serving ${url}/metrics and ${url}/healthz`, { host, port });
  } else {
    const msg = `serving ${url}/metrics and ${url}/healthz to other hosts (metrics.allowRemote), with no login`;
    options.log("warn", "metrics.listening", msg, { host, port, remote: true });
  }
  return {
    observe: (level, event, fields) => {
      try {
        metrics.observe(level, event, fields);
      } catch {
        // A metric must never break the daemon's logging.
      }
    },
    passDone: (result) => metrics.passDone(result),
    close: () => server.close(),
  };
}
