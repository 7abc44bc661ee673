/**
 * `moltbot-auth-sync run`: the daemon in the foreground. Owns the process: pid file, signals
 * (TERM/INT stop, HUP reloads the config), and the logger's last flush.
 */
import { messageOf } from "../errors.js";
import { createLogger } from "../log.js";
import { Daemon } from "../daemon/daemon.js";
import { acquirePidFile, pidFilePath, stateFilePath } from "../daemon/runtime-files.js";
import { type GlobalOptions, loadCommandConfig } from "./options.js";

export interface RunCommandOptions extends GlobalOptions {
  pretty?: boolean;
}

/** A stop must finish within this, whatever is in flight. */
const STOP_DEADLINE_MS = 4_500;

export async function runCommand(options: RunCommandOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const log = createLogger({ level: config.logLevel, pretty: options.pretty });
  const releasePid = await acquirePidFile(pidFilePath());
  const daemon = new Daemon({ config, logger: log, stateFile: stateFilePath() });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      log.error({ event: "daemon.error" }, `stop did not finish within ${STOP_DEADLINE_MS} ms; exiting hard`);
      log.flush();
      // process.exit() waits for libuv's worker threads, and one stuck in a system call never returns:
      // only a signal ends the process then.
      process.kill(process.pid, "SIGKILL");
    }, STOP_DEADLINE_MS).unref();
    await daemon.stop(signal).catch((err: unknown) => log.error({ event: "daemon.error" }, `stop: ${messageOf(err)}`));
    await releasePid();
    log.flush();
    process.exit(0);
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
