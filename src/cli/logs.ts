/**
 * `moltbot-auth-sync logs`: the daemon's log wherever it is (journald, the launchd log file, or --file),
 * filtered, one readable line per event, so "why did it fail at 03:12?" needs no jq.
 */
import { spawn } from "node:child_process";
import { createReadStream, statSync, watch } from "node:fs";
import { createInterface } from "node:readline";
import { AuthSyncError } from "../errors.js";
import { formatLogLine } from "../log-format.js";
import { jsonSafe } from "../terminal-text.js";
import { printLines } from "./print.js";
import { type LogFilter, isLevel, matchesFilter, parseRecord, parseSince } from "../log-filter.js";
import { currentUser } from "../service/host.js";
import { launchdLogDir } from "../service/launchd.js";
import { SERVICE_NAME } from "../service/units.js";

export interface LogsOptions {
  since?: string;
  level?: string;
  event?: string;
  agent?: string;
  follow?: boolean;
  json?: boolean;
  file?: string;
  system?: string;
}

export async function logsCommand(options: LogsOptions): Promise<void> {
  const filter: LogFilter = {};
  if (options.since !== undefined) {
    const since = parseSince(options.since);
    if (since === undefined) throw new AuthSyncError(`--since ${options.since}: expected a duration such as 1h or a date such as "2026-11-25 03:00"`, "usage");
    filter.since = since;
  }
  if (options.level !== undefined) {
    if (!isLevel(options.level)) throw new AuthSyncError(`--level ${options.level}: expected trace, debug, info, warn, error or fatal`, "usage");
    filter.minLevel = options.level;
  }
  if (options.event) filter.event = options.event;
  if (options.agent) filter.agent = options.agent;
  const print = (line: string) => {
    const record = parseRecord(line);
    if (!record) return;
    if (!matchesFilter(record, filter)) return;
    // JSON lines are passed on as read; a pretty line is built from values anyone could have logged.
    if (options.json) process.stdout.write(`${jsonSafe(line)}\n`);
    else printLines([formatLogLine(record)]);
  };
  const file = options.file ?? (process.platform === "darwin" ? `${launchdLogDir(currentUser())}/daemon.log` : undefined);
  if (file) return readFileLines(file, Boolean(options.follow), print);
  return readJournal(options, filter, print);
}

async function readFileLines(file: string, follow: boolean, onLine: (line: string) => void): Promise<void> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new AuthSyncError(`no log file ${file}: is the service installed (\`moltbot-auth-sync service install\`)?`, "logs.missing");
  }
  for await (const line of createInterface({ input: createReadStream(file, { end: Math.max(0, size - 1) }) })) onLine(line);
  if (!follow) return;
  let offset = size;
  let partial = "";
  await new Promise<void>(() => {
    watch(file, () => {
      const now = statSync(file).size;
      if (now < offset) offset = 0; // truncated or rotated
      if (now === offset) return;
      const stream = createReadStream(file, { start: offset, end: now - 1, encoding: "utf8" });
      offset = now;
      stream.on("data", (chunk) => {
        const lines = (partial + String(chunk)).split("\n");
        partial = lines.pop() ?? "";
        lines.forEach(onLine);
      });
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
    child.on("error", (err) => reject(new AuthSyncError(`cannot run journalctl (${err.message}); pass --file PATH to read a log file`, "logs.journal")));
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new AuthSyncError(`journalctl ${args.join(" ")} failed (exit ${code}): ${stderr.trim().split("\n")[0] ?? ""}`, "logs.journal"));
    });
  });
}
