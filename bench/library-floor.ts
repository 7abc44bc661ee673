/**
 * The library floor beside which `npm run bench` measures the daemon's idle memory: a bare ES-module process that
 * loads the libraries of the design card and has each do its job once, and nothing of ours. zod parses a config,
 * pino logs one line with a redacted field, chokidar watches one folder, node-cron runs the daemon's two default
 * schedules, execa is loaded. It prints `{"event":"daemon.ready"}` on stdout, then idles as the daemon does.
 *   node library-floor.js <folder to watch>
 */
import { watch } from "chokidar";
import "execa";
import { schedule } from "node-cron";
import { pino } from "pino";
import * as z from "zod";

const [folder] = process.argv.slice(2);
if (!folder) throw new Error("usage: library-floor.js <folder to watch>");

const config = z
  .strictObject({
    profileId: z
      .string()
      .regex(/^anthropic:\S+$/)
      .default("anthropic:claude-cli"),
    credentialType: z.enum(["token", "oauth"]).default("token"),
    refreshCommand: z.array(z.string().min(1)).min(1).default(["claude", "mcp", "serve"]),
    resyncCron: z.string().default("*/5 * * * *"),
    refreshCheckCron: z.string().default("* * * * *"),
    logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .parse({ credentialType: "token" });

const log = pino({ level: config.logLevel, redact: { paths: ["token", "*.token"], censor: "[redacted]" } });
log.info({ event: "floor.config", token: "secret" }, "config parsed");

const watcher = watch(folder, { ignoreInitial: true, depth: 0 });
watcher.on("all", () => undefined);
await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

schedule(config.resyncCron, () => undefined);
schedule(config.refreshCheckCron, () => undefined);

process.stdout.write(`${JSON.stringify({ event: "daemon.ready" })}\n`);
