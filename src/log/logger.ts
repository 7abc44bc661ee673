/**
 * Daemon logs: one JSON object per line on stdout (journald and launchd keep it), each with an `event`
 * from the list below. Secrets are kept out twice: structured secret fields are redacted by pino, and
 * free text from outside (a child's output, an error message) goes through `scrubSecrets` first.
 */
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";
import { fingerprint } from "../core/fingerprint.js";
import { type LogLevel, type LogRecord, formatLogLine } from "./format.js";

/** The stable list of events; docs/logs.md has an entry for each (test/docs.test.ts checks). */
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
  "sync.progress",
  "sync.done",
  "sync.idle",
  "watch.handled",
  "watch.ignored",
  "watch.renewed",
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
  "refresh.skipped",
  "cooldown.marked",
  "cooldown.gateway",
  "gateway.not_reloaded",
  "gateway.reloaded",
  "needs_login",
  "recovered",
  "fence.failed",
  "fence.recovered",
  "fence.pending",
  "token.expiring",
  "token.expired",
  "login.expiring",
  "login.ended",
  "hook.failed",
  "watch.error",
  "metrics.listening",
  "metrics.unavailable",
  "fleet.joined",
  "fleet.unreachable",
  "fleet.reachable",
  "fleet.elected",
  "fleet.deposed",
  "fleet.published",
  "fleet.handover",
  "fleet.waiting",
  "fleet.invalid",
  "fleet.restart_needed",
] as const;

export type LogEvent = (typeof EVENTS)[number];

const SECRET_KEYS = [
  "accessToken",
  "refreshToken",
  "token",
  "access",
  "refresh",
  "key",
  "claudeAiOauth",
  "password",
  "secret",
];
export const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`)];

/** A value after `token=`, `"access_token": "`, `refreshToken: ` and the like (JSON, form and header styles). */
// The key's word is matched from its start only (`(?<!\w)`): an unanchored `\w*token` retries from every
// character of a long run, which makes a megabyte of output cost minutes.
const KEYED_SECRET =
  /((?<!\w)\w*token["']?\s*[:=]\s*["']?|\bbearer\s+)([A-Za-z0-9._~+/=%-]{8,})(?![A-Za-z0-9._~+/=%-]|…)/gi;
/** A token with its public prefix, even a newer kind than the ones we know. */
const PREFIXED_TOKEN = /sk-ant-[A-Za-z0-9_-]{8,}(?![A-Za-z0-9_-]|…)/g;
/** Any long base64url run: a token whose prefix was lost, or one of a kind we do not know. */
const LONG_RUN = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-]|…)/g;

/**
 * Replaces anything token-shaped in free text by its fingerprint. Run it on the whole text before cutting
 * anything off (`scrubbedTail`): a cut through a token leaves a piece no pattern recognises.
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(KEYED_SECRET, (_match, key: string, value: string) => `${key}${fingerprint(value)}`)
    .replace(PREFIXED_TOKEN, (token) => fingerprint(token))
    .replace(LONG_RUN, (run) => fingerprint(run));
}

/** The last `max` characters of `text`, scrubbed first so that the cut cannot split a token. */
export function scrubbedTail(text: string, max: number): string {
  return scrubSecrets(text).slice(-max);
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
          target.write(`${formatLogLine(JSON.parse(line) as LogRecord)}\n`);
        } catch {
          target.write(`${line}\n`);
        }
      }
      done();
    },
  });
}
