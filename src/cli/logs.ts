/**
 * `moltbot-auth-sync logs`: the daemon's log wherever it is (journald, the launchd log file, or --file),
 * filtered, one readable line per event, so "why did it fail at 03:12?" needs no jq.
 */
import { spawn } from "node:child_process";
import { watch } from "node:fs";
import { createInterface } from "node:readline";
import { AuthSyncError, errnoCode, messageOf } from "../core/errors.js";
import { openRegularFile } from "../fs/read-file.js";
import { LOG_LEVELS, formatLogLine } from "../log/format.js";
import { jsonSafe } from "../core/terminal-text.js";
import { printLines } from "./print.js";
import { type LogFilter, isLevel, matchesFilter, parseRecord, parseSince } from "../log/filter.js";
import { currentUser } from "../service/host.js";
import { launchdLogDir } from "../service/launchd.js";
import { SERVICE_NAME } from "../service/units.js";
import { resolveStateDir } from "../stores/discovery/state-dir.js";

export interface LogsOptions {
  since?: string;
  level?: string;
  event?: string;
  agent?: string;
  /** The global `--state-dir`: with several gateways, only lines about that one. */
  stateDir?: string;
  follow?: boolean;
  json?: boolean;
  file?: string;
  system?: string;
}

export async function logsCommand(options: LogsOptions): Promise<void> {
  const filter: LogFilter = {};
  if (options.since !== undefined) {
    const since = parseSince(options.since);
    if (since === undefined)
      throw new AuthSyncError(
        `--since ${options.since}: expected a duration such as 1h or a date such as "2026-11-25 03:00"`,
        "usage",
      );
    filter.since = since;
  }
  if (options.level !== undefined) {
    if (!isLevel(options.level)) {
      throw new AuthSyncError(`--level ${options.level}: expected one of ${LOG_LEVELS.join(", ")}`, "usage");
    }
    filter.minLevel = options.level;
  }
  if (options.event) filter.event = options.event;
  if (options.agent) filter.agent = options.agent;
  if (options.stateDir) filter.stateDir = resolveStateDir(options.stateDir)!.dir;
  let printed = 0;
  const print = (line: string) => {
    const record = parseRecord(line);
    if (!record) return;
    if (!matchesFilter(record, filter)) return;
    printed += 1;
    // JSON lines are passed on as read; a pretty line is built from values anyone could have logged.
    if (options.json) process.stdout.write(`${jsonSafe(line)}\n`);
    else printLines([formatLogLine(record)]);
  };
  const file =
    options.file ?? (process.platform === "darwin" ? `${launchdLogDir(currentUser())}/daemon.log` : undefined);
  const where = file ?? `the journal of ${journalUnit(options)}`;
  await (file ? readFileLines(file, Boolean(options.follow), print) : readJournal(options, filter, print));
  if (printed > 0) return;
  const filtered = Object.keys(filter).length > 0 ? " matching the filter" : "";
  const other = file
    ? "--system USER for a system unit's journal"
    : "--file PATH to read a log file, or --system USER for a system unit";
  printLines([`no log lines${filtered} in ${where}; choose another source with ${other}`], process.stderr);
}

function journalUnit(options: LogsOptions): string {
  return options.system ? `${SERVICE_NAME}@${options.system}.service` : `${SERVICE_NAME}.service (user)`;
}

async function readFileLines(file: string, follow: boolean, onLine: (line: string) => void): Promise<void> {
  let handle;
  try {
    // Through the one reader: a FIFO or device planted as the log must not hang `logs`.
    handle = await openRegularFile(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") {
      const hint = "is the service installed (`moltbot-auth-sync service install`)?";
      throw new AuthSyncError(`no log file ${file}: ${hint}`, "logs.missing");
    }
    throw new AuthSyncError(`log file ${file} cannot be read: ${messageOf(err)}`, "logs.unreadable");
  }
  const size = (await handle.stat()).size;
  const input = handle.createReadStream({ start: 0, end: Math.max(0, size - 1) });
  for await (const line of createInterface({ input })) onLine(line);
  if (!follow) return;
  let offset = size;
  let partial = "";
  let reading = Promise.resolve();
  const readMore = async () => {
    const more = await openRegularFile(file).catch(() => undefined);
    if (!more) return;
    const now = (await more.stat()).size;
    if (now < offset) offset = 0; // truncated or rotated
    if (now === offset) return more.close();
    const stream = more.createReadStream({ start: offset, end: now - 1, encoding: "utf8" });
    offset = now;
    for await (const chunk of stream) {
      const lines = (partial + String(chunk)).split("\n");
      partial = lines.pop() ?? "";
      lines.forEach(onLine);
    }
  };
  await new Promise<void>(() => {
    watch(file, () => {
      reading = reading.then(readMore).catch(() => undefined);
    });
  });
}

function readJournal(options: LogsOptions, filter: LogFilter, onLine: (line: string) => void): Promise<void> {
  const unit = options.system ? `${SERVICE_NAME}@${options.system}.service` : `${SERVICE_NAME}.service`;
  const args = [...(options.system ? [] : ["--user"]), "-u", unit, "-o", "cat", "--no-pager"];
  if (filter.since !== undefined) args.push("--since", `@${Math.floor(filter.since / 1000)}`);
  if (options.follow) args.push("-f");
  return new Promise((resolve, reject) => {
    const child = spawn("journalctl", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    createInterface({ input: child.stdout }).on("line", onLine);
    child.on("error", (err) =>
      reject(
        new AuthSyncError(
          `cannot run journalctl (${err.message}); pass --file PATH to read a log file`,
          "logs.journal",
        ),
      ),
    );
    child.on("close", (code) => {
      if (code === 0) resolve();
      else
        reject(
          new AuthSyncError(
            `journalctl ${args.join(" ")} failed (exit ${code}): ${stderr.trim().split("\n")[0] ?? ""}`,
            "logs.journal",
          ),
        );
    });
  });
}
