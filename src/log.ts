/**
 * Daemon logs: one JSON object per line on stdout (journald and launchd keep it), each with an `event`
 * from the list below. Secrets are kept out twice: structured secret fields are redacted by pino, and
 * free text from outside (a child's output, an error message) goes through `scrubSecrets` first.
 */
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";
import { fingerprint } from "./fingerprint.js";
import { type LogLevel, formatLogLine } from "./log-format.js";

/** The stable list of events; `docs` in the README mirror it. */
export const EVENTS = [
  "daemon.started",
  "daemon.ready",
  "daemon.reloaded",
  "daemon.stopping",
  "daemon.stopped",
  "daemon.error",
  "config.invalid",
  "state_dir.missing",
  "state_dir.found",
  "gateway_config.invalid",
  "gateway_config.recovered",
  "state_file.unwritable",
  "state_file.recovered",
  "source.changed",
  "source.invalid",
  "source.missing",
  "source.recovered",
  "sync.written",
  "sync.unchanged",
  "sync.skipped",
  "sync.failed",
  "store.locked",
  "store.invalid",
  "store.unwritable",
  "store.permissions",
  "store.recovered",
  "store.unsupported",
  "store.cleaned",
  "agent.added",
  "agent.removed",
  "refresh.scheduled",
  "refresh.started",
  "refresh.succeeded",
  "refresh.unneeded",
  "refresh.failed",
  "cooldown.marked",
  "cooldown.gateway",
  "needs_login",
  "recovered",
  "hook.failed",
  "watch.error",
] as const;

export type LogEvent = (typeof EVENTS)[number];


const SECRET_KEYS = ["accessToken", "refreshToken", "token", "access", "refresh", "key", "claudeAiOauth", "password", "secret"];
export const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`)];

const TOKEN_PATTERN = /sk-ant-[a-z]{3}\d{2}-[A-Za-z0-9_-]{8,}/g;

/** Replaces anything token-shaped in free text by its fingerprint. */
export function scrubSecrets(text: string): string {
  return text.replace(TOKEN_PATTERN, (token) => fingerprint(token));
}

export interface LoggerOptions {
  level: LogLevel;
  pretty?: boolean;
  /** Where lines go; stdout by default. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  // Synchronous writes: an unhandled SIGKILL or crash cannot lose buffered lines.
  const target = options.destination ?? (pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream);
  const out = options.pretty ? prettyStream(target) : target;
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    out as pino.DestinationStream,
  );
}

function prettyStream(target: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        try {
          target.write(`${formatLogLine(JSON.parse(line))}\n`);
        } catch {
          target.write(`${line}\n`);
        }
      }
      done();
    },
  });
}
