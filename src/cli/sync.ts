/** `moltbot-auth-sync sync [--dry-run] [--json]`: one reconcile pass, idempotent, safe from cron. */
import { formatRelative } from "../duration.js";
import { ExitError } from "../errors.js";
import { fingerprint } from "../fingerprint.js";
import { profileSecret } from "../reconcile.js";
import { readOffers } from "../sources/index.js";
import { type AgentReport, syncAgents } from "../sync.js";
import { resolveTargets, storeAdapter } from "../targets.js";
import { type GlobalOptions, loadCommandConfig, printJson, writeOptions } from "./options.js";
import { columns, printLines } from "./print.js";

export interface SyncCommandOptions extends GlobalOptions {
  dryRun?: boolean;
  json?: boolean;
}

export async function syncCommand(options: SyncCommandOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const { offers, login, loginError } = await readOffers(config);
  // With nothing to offer, the login's problem is the whole story: one line, exit 1, no store touched.
  if (offers.length === 0) throw loginError!;
  const targets = await resolveTargets(config);
  const target = { agents: targets.agents, adapter: storeAdapter(targets) };
  const writing = await writeOptions(config, options.dryRun);
  const reports: AgentReport[] = [];
  for (const offer of offers) reports.push(...(await syncAgents(target, offer.profileId, offer.profile, writing)));
  const now = Date.now();
  if (options.json) {
    printJson({
      dryRun: Boolean(options.dryRun),
      source: login ? { origin: login.origin, fingerprint: fingerprint(login.accessToken), expiresAt: login.expiresAt, type: offers[0]!.profile.type } : { error: loginError!.message, problem: loginError!.problem },
      offers: offers.map((o) => ({ kind: o.kind, profile: o.profileId, fingerprint: fingerprint(profileSecret(o.profile)), origin: o.origin })),
      stateDir: targets.stateDir,
      store: targets.generation,
      agents: reports.map(({ writes: _writes, ...report }) => report),
    });
  } else {
    const heads = offers.map((o) => {
      const expiry = typeof o.profile.expires === "number" ? `, expires ${formatRelative(o.profile.expires, now)}` : "";
      return `${o.profileId} ← ${fingerprint(profileSecret(o.profile))} (${o.profile.type}${expiry}) from ${o.origin}`;
    });
    const store = `${targets.generation.format} store (${targets.generation.reason})`;
    const lines = [...heads.map((h) => `${options.dryRun ? "dry run: " : ""}${h}`), `state dir ${targets.stateDir.dir} (${targets.stateDir.reason}); ${store}`];
    const multi = offers.length > 1;
    const result = (r: AgentReport) => (options.dryRun && r.result === "written" ? "would write" : r.result);
    lines.push(...columns(reports.map((r) => [r.agent, ...(multi ? [r.profile] : []), result(r), r.reason ?? ""])));
    printLines(lines);
    printLines(reports.flatMap((r) => r.warnings).map((warning) => `warning: ${warning}`), process.stderr);
  }
  const gateway = targets.gatewayConfig;
  if (gateway?.error) {
    const warning = `warning: gateway config ${gateway.file} cannot be parsed (${gateway.error}); used the agents found on disk`;
    printLines([warning], process.stderr);
  }
  if (loginError) {
    // A host that runs on setup-tokens alone has no Claude login; that is a note, not a failure.
    if (loginError.problem === "not_logged_in") {
      printLines([`note: ${config.profileId} not synced: ${loginError.message}`], process.stderr);
    }
    else throw new ExitError(1, loginError.message);
  }
  if (reports.some((r) => r.result === "failed")) throw new ExitError(1);
}
