/** `moltbot-auth-sync sync [--dry-run] [--json]`: one reconcile pass, idempotent, safe from cron. */
import { formatRelative } from "../duration.js";
import { ExitError } from "../errors.js";
import { fingerprint } from "../fingerprint.js";
import { desiredProfile } from "../reconcile.js";
import { readClaudeLogin } from "../sources/index.js";
import { type AgentReport, syncAgents } from "../sync.js";
import { resolveTargets } from "../targets.js";
import { type GlobalOptions, columns, loadCommandConfig, printJson } from "./options.js";

export interface SyncCommandOptions extends GlobalOptions {
  dryRun?: boolean;
  json?: boolean;
}

export async function syncCommand(options: SyncCommandOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const source = await readClaudeLogin(config);
  const targets = await resolveTargets(config);
  const desired = desiredProfile(source, config.credentialType);
  const reports = await syncAgents(targets.agents, config.profileId, desired, { lockRetries: config.lockRetries, dryRun: options.dryRun });
  const now = Date.now();
  const failed = reports.some((r) => r.result === "failed");
  if (options.json) {
    printJson({
      dryRun: Boolean(options.dryRun),
      source: { origin: source.origin, fingerprint: fingerprint(source.accessToken), expiresAt: source.expiresAt, type: desired.type },
      stateDir: targets.stateDir,
      agents: reports.map(({ content: _content, ...report }) => report),
    });
  } else {
    const head = `${options.dryRun ? "dry run: " : ""}${config.profileId} ← ${fingerprint(source.accessToken)} (${desired.type}, expires ${formatRelative(source.expiresAt, now)}) from ${source.origin}`;
    process.stdout.write(`${head}\nstate dir ${targets.stateDir.dir} (${targets.stateDir.reason})\n${columns(reports.map((r) => row(r, options.dryRun)))}\n`);
    for (const warning of reports.flatMap((r) => r.warnings)) process.stderr.write(`warning: ${warning}\n`);
  }
  if (failed) throw new ExitError(1);
}

function row(report: AgentReport, dryRun: boolean | undefined): string[] {
  const result = dryRun && report.result === "written" ? "would write" : report.result;
  return [report.agent, result, report.reason ?? ""];
}
