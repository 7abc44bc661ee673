/**
 * `moltbot-auth-sync run`: the daemon in the foreground. Owns the process: pid file, signals
 * (TERM/INT stop, HUP reloads the config), and the logger's last flush.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { messageOf } from "../core/errors.js";
import { createLogger } from "../log/logger.js";
import { Daemon, type DaemonOptions } from "../daemon/daemon.js";
import { tuneHeapForDaemon } from "../daemon/heap.js";
import { endSqliteWorkers } from "../stores/sqlite/worker-client.js";
import { acquirePidFile, pidFilePath, stateFilePath } from "../runtime/files.js";
import { type GlobalOptions, loadCommandConfig } from "./options.js";

export interface RunCommandOptions extends GlobalOptions {
  pretty?: boolean;
}

/** libuv file requests in flight: each holds a worker thread that process.exit() would wait for. */
const pendingFileRequests = () => process.getActiveResourcesInfo().filter((r) => r.startsWith("FSReq")).length;

const FILE_REQUEST_PATIENCE_MS = 1_000;

/** A stop must finish within this, whatever is in flight. */
const STOP_DEADLINE_MS = 4_500;

export async function runCommand(options: RunCommandOptions): Promise<void> {
  tuneHeapForDaemon();
  const { config } = await loadCommandConfig(options);
  const log = createLogger({ level: config.logLevel, pretty: options.pretty });
  const releasePid = await acquirePidFile(pidFilePath());
  // Loaded only when configured: prom-client costs an idle daemon without metrics nothing.
  const startMetrics: DaemonOptions["startMetrics"] = async (options) =>
    (await import("../metrics/index.js")).startMetrics(options);
  const daemon = new Daemon({ config, logger: log, stateFile: stateFilePath(), startMetrics });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + STOP_DEADLINE_MS;
    setTimeout(() => exitHard(`stop did not finish within ${STOP_DEADLINE_MS} ms`), STOP_DEADLINE_MS).unref();
    // A pass waiting on SQLite (a hostile trigger runs for as long as it likes) is freed: its child is killed,
    // and SQLite's journal undoes whatever it had not committed.
    setTimeout(() => endSqliteWorkers(), FILE_REQUEST_PATIENCE_MS).unref();
    await daemon.stop(signal).catch((err: unknown) => log.error({ event: "daemon.error" }, `stop: ${messageOf(err)}`));
    await releasePid();
    // process.exit() joins libuv's worker threads, and one stuck in a system call (an open() that blocks)
    // never returns, so exit() would hang for good. A file request takes milliseconds: one still pending
    // after a second is stuck, and only a signal ends the process then.
    const patience = Math.min(deadline, Date.now() + FILE_REQUEST_PATIENCE_MS);
    while (pendingFileRequests() > 0 && Date.now() < patience) await sleep(50);
    if (pendingFileRequests() > 0) exitHard(`${pendingFileRequests()} file request(s) still blocked`);
    endSqliteWorkers();
    log.flush();
    process.exit(0);
  };
  const exitHard = (why: string) => {
    endSqliteWorkers();
    log.error({ event: "daemon.error" }, `${why}; exiting with SIGKILL`);
    log.flush();
    process.kill(process.pid, "SIGKILL");
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGHUP", () => {
    loadCommandConfig(options)
      .then(({ config: next }) => daemon.reload(next))
      .catch((err: unknown) => log.error({ event: "config.invalid" }, `${messageOf(err)}; keeping the running config`));
  });
  // Bad input must never take the daemon down; a bug that escapes is logged and the daemon goes on.
  process.on("unhandledRejection", (err) => log.error({ event: "daemon.error" }, `unhandled: ${messageOf(err)}`));

  try {
    await daemon.start();
  } catch (err) {
    // Nothing is armed: exit non-zero so the service manager restarts us after its delay.
    log.error({ event: "daemon.error" }, `start failed: ${messageOf(err)}`);
    await releasePid();
    log.flush();
    process.exit(1);
  }
  await new Promise(() => undefined);
}
