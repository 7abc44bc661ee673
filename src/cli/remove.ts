/**
 * `moltbot-auth-sync remove`: takes the profiles moltbot-auth-sync wrote out of every agent, before an uninstall.
 * Ours are the logins' profile ids, and the setup-tokens it stored (by their digests: sources/token-book.ts); a
 * token the gateway or a person put under one of those ids is left. A running daemon would write them back at
 * once, so it must be stopped first.
 */
import { loginProfileIds } from "../config/logins.js";
import { AuthSyncError, ExitError } from "../core/errors.js";
import { type AgentReport, removeAgents } from "../pass/apply.js";
import { gatewayStores } from "../pass/pass.js";
import { pidFilePath, runningDaemonPid } from "../runtime/files.js";
import { ownedBy, readTokenBook } from "../sources/token-book.js";
import { inSessions } from "../stores/adapter.js";
import { findGateways } from "../stores/discovery/gateway.js";
import { reloadAfterWrites, staleWarnings } from "./gateway-reload.js";
import { type GlobalOptions, loadCommandConfig, printJson, writeOptions } from "./options.js";
import { columns, printLines } from "./print.js";

export interface RemoveOptions extends GlobalOptions {
  profile?: string;
  dryRun?: boolean;
  json?: boolean;
}

export async function removeCommand(options: RemoveOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const pid = await runningDaemonPid(pidFilePath());
  if (pid !== undefined) {
    const stop = "moltbot-auth-sync service uninstall (or stop `moltbot-auth-sync run`)";
    throw new AuthSyncError(`the daemon (pid ${pid}) would write them back at once: stop it first: ${stop}`, "usage");
  }
  const book = await readTokenBook();
  const logins = new Set(loginProfileIds(config));
  const ids = options.profile ? [options.profile] : [...new Set([...logins, ...Object.keys(book)])];
  const gateways = await findGateways(config);
  const writing = await writeOptions(config, options.dryRun);
  const reports: AgentReport[] = [];
  const reloads = [];
  for (const gateway of gateways.found) {
    const stores = gatewayStores(gateway, gateways);
    const done = await inSessions([stores.adapter], async () => {
      const own: AgentReport[] = [];
      for (const id of ids) {
        // A generation that never takes this id (the SQLite era, a login's) holds none of ours under it.
        if (stores.adapter.admit?.(id, { type: "token" })) continue;
        own.push(...(await removeAgents(stores, id, logins.has(id) ? undefined : ownedBy(book[id] ?? []), writing)));
      }
      return own;
    });
    reports.push(...done);
    if (!options.dryRun) reloads.push(...(await reloadAfterWrites(config, stores, done)));
  }
  const result = (r: AgentReport) =>
    r.result === "removed"
      ? options.dryRun
        ? "would remove"
        : "removed"
      : r.result === "unchanged"
        ? "none"
        : r.result;
  if (options.json) printJson({ dryRun: Boolean(options.dryRun), profiles: ids, agents: reports });
  else {
    const rows = reports.filter((r) => r.result !== "unchanged");
    const name = (r: AgentReport) => (r.stateDir ? `${r.agent} (${r.stateDir})` : r.agent);
    if (rows.length === 0) printLines([`no agent holds ${ids.join(", ")}: nothing to remove`]);
    else printLines(columns(rows.map((r) => [name(r), r.profile, result(r), r.reason ?? ""])));
  }
  printLines(staleWarnings(reloads), process.stderr);
  for (const failure of gateways.failed) printLines([`moltbot-auth-sync: ${failure.dir}: ${failure.error.message}`]);
  if (reports.some((r) => r.result === "failed") || gateways.failed.length > 0) throw new ExitError(1);
}
