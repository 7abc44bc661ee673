/**
 * `moltbot-auth-sync sync [--dry-run] [--no-refresh] [--json]`: the daemon's pass, once, safe from cron. Like
 * certbot's `renew` it acts only when renewal is due: inside `refreshMargin` (or expired) it first asks `claude`
 * to refresh the login, with the daemon's runner, timeout and classification. Exit 1 when an agent is left
 * without a usable credential, with one line naming the fix.
 */
import type { AuthProfileStore } from "../types.js";
import { type NeverTried, neverTried, neverTriedLines } from "../reconcile/profile-order.js";
import { type Failure, loginEndFailure, loginFixOf, markingKind } from "../reconcile/failure.js";
import { LOGIN_END_FIX, loginEndStage, loginEndText } from "../reconcile/login-end.js";
import { CLI_REFRESH_WINDOW_MS } from "../reconcile/refresh-due.js";
import type { RefreshResult } from "../refresh/refresher.js";
import { formatDuration, formatRelative } from "../core/duration.js";
import { ExitError } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import { gatewayStores, passReports } from "../pass/pass.js";
import { type LoginRun, type RefreshStep, type Run, run } from "../pass/run.js";
import { staleReloads, staleText } from "../pass/reload.js";
import { profileSecret } from "../reconcile/profile.js";
import { loginConfigs } from "../config/logins.js";
import { readLogin } from "../sources/index.js";
import { readSetupTokens } from "../sources/setup-token.js";
import type { Config } from "../config/config.js";
import { readFleet, withFleetTokens, withPublishedLogin } from "../fleet/published.js";
import pLimit from "p-limit";
import { AGENT_CONCURRENCY, type AgentReport, type GatewayStores } from "../pass/apply.js";
import { type Gateways, agentName, failureText, findGateways, gatewayWarnings } from "../stores/discovery/gateway.js";
import type { SourceCredential } from "../types.js";
import { type GlobalOptions, loadCommandConfig, printJson, writeOptions } from "./options.js";
import { columns, printLines } from "./print.js";
import { markingText } from "./status.js";
import { groupUnrecovered, unrecoveredText } from "../pass/recover.js";

export interface SyncCommandOptions extends GlobalOptions {
  dryRun?: boolean;
  json?: boolean;
  /** False with --no-refresh: only copy. */
  refresh?: boolean;
}

type RefreshReport =
  | { outcome: "would-run"; command: string }
  | { outcome: RefreshResult["outcome"]; command: string; message: string; reason?: string; durationMs: number };

/** An agent whose copy of our profile cannot be used now, and why. */
interface Unusable {
  agent: string;
  /** With several gateways, the agent's state dir. */
  stateDir?: string;
  why: string;
}

export async function syncCommand(options: SyncCommandOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  let gateways: Gateways | undefined;
  // On a terminal, a long run shows how far it has come on one rewritten stderr line; piped output stays clean.
  let progressShown = false;
  const shown = (done: number, total: number) => {
    progressShown = true;
    process.stderr.write(`\r${done} of ${total} agents done`);
  };
  const render = async (done: Run) => {
    if (progressShown) process.stderr.write("\n");
    const report = { run: done, gateways: gateways! };
    if (!config.logins) return syncLogin(report, report.run.logins[0]!, options, { json: printJson, text: printLines });
    // Several logins: each reported under its own name; one login's failure does not hide the next.
    const documents: unknown[] = [];
    const failed: string[] = [];
    for (const part of report.run.logins) {
      const { profileId, claudeConfigDir } = part.config;
      const out: SyncOutput = {
        json: (value) => documents.push({ login: { profileId, claudeConfigDir }, ...(value as object) }),
        // Every line names its login: a heading over its own lines, a prefix on its warnings.
        text: (lines, stream) => {
          if (lines.length === 0) return;
          if (stream)
            return printLines(
              lines.map((line) => `${profileId}: ${line}`),
              stream,
            );
          printLines([`login ${profileId} (${claudeConfigDir}):`, ...lines]);
        },
      };
      try {
        await syncLogin(report, part, options, out);
      } catch (err) {
        if (!(err instanceof ExitError)) throw err;
        failed.push(profileId);
        if (err.message) printLines([`moltbot-auth-sync: ${profileId}: ${err.message}`], process.stderr);
      }
    }
    if (options.json) printJson({ logins: documents });
    if (failed.length > 0) throw new ExitError(1);
  };
  // In a fleet, what it published serves beside what this host holds (a follower's claude holds nothing).
  const fleet = await readFleet(config, process.env);
  if (fleet?.warning) printLines([`warning: ${fleet.warning}`], process.stderr);
  const published = (view: Config) => fleet?.logins.get(view.profileId);
  await run({
    logins: loginConfigs(config).map((view) => ({
      config: view,
      read: () => readLogin(view).then((reading) => withPublishedLogin(reading, published(view))),
    })),
    setupTokens: async () =>
      withFleetTokens(await readSetupTokens(config.setupTokenProfileId), fleet?.setupTokens ?? []),
    gateways: async (reads, offered) => {
      // With nothing to offer and nowhere to mark, the login's problem is the whole story: one line, exit 1.
      const why = reads.find((read) => read.error)?.error;
      gateways = await findGateways(config).catch((err: unknown) => {
        throw offered ? err : why!;
      });
      if (gateways.found.length === 0 && !offered) throw why!;
      return gateways.found.map((gateway) => gatewayStores(gateway, gateways!));
    },
    options: await writeOptions(config, options.dryRun),
    ...(options.refresh === false
      ? {}
      : { refresh: { dryRun: Boolean(options.dryRun), signal: new AbortController().signal } }),
    ...(process.stderr.isTTY ? { onProgress: shown } : {}),
    now: Date.now,
    env: process.env,
    // Rendered while the stores are still in session: the check of what each agent is left with reads them all.
    whileInSession: render,
  });
}

/** Where one login's part of the run is reported. */
interface SyncOutput {
  json: (value: unknown) => void;
  text: (lines: string[], stream?: NodeJS.WritableStream) => void;
}

interface SyncReport {
  run: Run;
  gateways: Gateways;
}

/** One login's part of the run, rendered; exit 1 (ExitError) when an agent is left without a usable credential. */
async function syncLogin(report: SyncReport, part: LoginRun, options: SyncCommandOptions, out: SyncOutput) {
  const { gateways } = report;
  const { config, login, error: loginError, refreshFailure, pass: result } = part;
  const stores = report.run.gateways;
  const refresh = part.refresh && refreshReport(part.refresh);
  const offers = result.copies.map((copy) => copy.offer);
  const setupOffers = offers.filter((offer) => offer.kind === "setup-token");
  const reloads = result.reloads ?? [];
  const marking = result.marking?.failure;
  // Of the marking, only the agents it marked are news; "no such profile" or "already marked" are not.
  const reports = passReports(result).filter((r) => !(result.marking?.reports.includes(r) && r.result !== "marked"));
  // A host that runs on setup-tokens alone has no Claude login; its profile is not expected anywhere.
  const loginOptional = !login && loginError?.problem === "not_logged_in" && setupOffers.length > 0;
  const checkUsable = !options.dryRun && !loginOptional && login !== undefined;
  const written = [...new Set(offers.map((o) => o.profileId))];
  const checked = checkUsable || (!options.dryRun && written.length > 0);
  const { unusable: allUnusable, neverTried } = checked
    ? await checkAgents(stores, config.profileId, written, reports)
    : { unusable: [], neverTried: [] };
  const unusable = checkUsable ? allUnusable : [];
  const now = Date.now();
  if (options.json) {
    out.json({
      dryRun: Boolean(options.dryRun),
      source: login
        ? {
            origin: login.origin,
            fingerprint: fingerprint(login.accessToken),
            expiresAt: login.expiresAt,
            ...(login.loginEndsAt !== undefined ? { loginEndsAt: login.loginEndsAt } : {}),
            type: offers[0]!.profile.type,
          }
        : { error: loginError!.message, problem: loginError!.problem },
      ...(refresh ? { refresh } : {}),
      offers: offers.map((o) => ({
        kind: o.kind,
        profile: o.profileId,
        fingerprint: fingerprint(profileSecret(o.profile)),
        origin: o.origin,
      })),
      ...(config.stateDirs
        ? { gateways: gatewaysJson(gateways, reports, unusable) }
        : { stateDir: gateways.found[0]!.stateDir, store: gateways.found[0]!.generation, agents: reports }),
      ...(marking
        ? { marking: { reason: marking.reason, needsLogin: marking.needsLogin, message: withDetail(marking) } }
        : {}),
      ...(config.stateDirs ? {} : { unusable }),
      ...(neverTried.length ? { neverTried: neverTriedLines(neverTried) } : {}),
      ...(result.recovery
        ? { recovery: { unrecovered: result.recovery.unrecovered, pending: result.recovery.pending } }
        : {}),
      ...(reloads.length ? { reloads } : {}),
    });
  } else {
    const prefix = options.dryRun ? "dry run: " : "";
    const lines: string[] = [];
    if (refresh?.outcome === "would-run") {
      const held = `${fingerprint(login!.accessToken)} (expires ${formatRelative(login!.expiresAt, now)})`;
      lines.push(`dry run: would run \`${refresh.command}\` to refresh ${held}`);
    } else if (refresh) lines.push(`refresh: ${refresh.message}`);
    for (const o of offers) {
      const expiry = typeof o.profile.expires === "number" ? `, expires ${formatRelative(o.profile.expires, now)}` : "";
      const offered = `${fingerprint(profileSecret(o.profile))} (${o.profile.type}${expiry})`;
      lines.push(`${prefix}${o.profileId} ← ${offered} from ${o.origin}`);
    }
    // The profile column is shown when an agent has several rows (several profiles, or a copy and a marking).
    const multi = new Set(reports.map((r) => agentName(r.agent, r.stateDir))).size < reports.length;
    const row = (r: AgentReport) => [
      r.agent,
      ...(multi ? [r.profile] : []),
      options.dryRun && r.result === "written" ? "would write" : r.result,
      r.result === "marked" ? markingKind(marking!) : (r.reason ?? ""),
    ];
    // Each gateway under a line of its own: its state dir and generation, then its agents.
    for (const gateway of gateways.found) {
      const { stateDir, generation } = gateway;
      lines.push(`state dir ${stateDir.dir} (${stateDir.reason}); ${generation.format} store (${generation.reason})`);
      const own = reports.filter((r) => r.stateDir === gateways.stateDirLabel(gateway.stateDir.dir));
      lines.push(...columns(own.map(row)).map((line) => (config.stateDirs ? `  ${line}` : line)));
    }
    for (const failure of gateways.failed) lines.push(`state dir ${failure.dir}: not synced (see below)`);
    out.text(lines);
    out.text(
      reports.flatMap((r) => r.warnings).map((warning) => `warning: ${warning}`),
      process.stderr,
    );
    const recovery = result.recovery;
    const unrecovered = groupUnrecovered(recovery?.unrecovered ?? []).map(
      (u) => `warning: ${unrecoveredText(u, config.autoRecover)}`,
    );
    out.text([...unrecovered, ...(recovery?.problem ? [`warning: ${recovery.problem}`] : [])], process.stderr);
  }
  for (const gateway of gateways.found) {
    const where = gateways.stateDirLabel(gateway.stateDir.dir);
    const warnings = gatewayWarnings(gateway).map((w) => `warning: ${where ? `${where}: ` : ""}${w}`);
    out.text(warnings, process.stderr);
  }
  // Our writes stand; a running gateway that was not told goes on with what it read before, until restarted.
  out.text(
    staleReloads(reloads).map((r) => `warning: ${staleText(r.reload, r.stateDir)}`),
    process.stderr,
  );
  // A state dir that cannot be served is one line each; the others were synced all the same.
  const failedDirs = gateways.failed.map((f) => `moltbot-auth-sync: ${failureText(f)}`);
  out.text(failedDirs, process.stderr);
  if (loginError) {
    if (loginOptional) out.text([`note: ${config.profileId} not synced: ${loginError.message}`], process.stderr);
    else throw new ExitError(1, loginError.message);
  }
  // Past its end no refresh was tried and our profile was marked: one line, whatever the agents hold.
  const ended = loginEndFailure(login, now) ?? (refreshFailure?.loginEnded ? refreshFailure : undefined);
  if (ended) {
    const marked = result.marking ? `; ${config.profileId} is marked unusable, so the gateway fails over` : "";
    throw new ExitError(1, `${withDetail(ended)}${marked}. Fix: ${LOGIN_END_FIX}`);
  }
  if (login?.loginEndsAt !== undefined && loginEndStage(login.loginEndsAt, now, config.loginEndWarning)) {
    out.text([`warning: ${loginEndText(login.loginEndsAt, now)}. Fix: ${LOGIN_END_FIX}`], process.stderr);
  }
  if (unusable.length > 0) {
    const agents = unusable.map((u) => agentName(u.agent, u.stateDir)).join(", ");
    const why = marking ? withDetail(marking) : [...new Set(unusable.map((u) => u.why))].join("; ");
    const fix = fixFor(marking ?? refreshFailure, options.refresh === false, login, now);
    throw new ExitError(1, `${config.profileId} is unusable in ${agents}: ${why}. Fix: ${fix}`);
  }
  if (refreshFailure) {
    const until = new Date(login!.expiresAt).toISOString();
    const failed = `claude could not refresh the login (${refreshFailure.message})`;
    out.text([`warning: ${failed}; the held token still works until ${until}`], process.stderr);
  }
  // Written, but the gateway's own order never reaches it: as good as not written (exit 1, the edit that fixes it).
  const never = neverTriedLines(neverTried);
  if (never.length > 0) {
    out.text(
      never.slice(1).map((line) => `moltbot-auth-sync: ${line}`),
      process.stderr,
    );
    throw new ExitError(1, never[0]);
  }
  if (reports.some((r) => r.result === "failed") || gateways.failed.length > 0) throw new ExitError(1);
}

/** `sync --json` with `stateDirs`: each gateway with its own agents and unusable ones, or why it was not synced. */
function gatewaysJson(gateways: Gateways, reports: readonly AgentReport[], unusable: readonly Unusable[]) {
  return [
    ...gateways.found.map((gateway) => {
      const dir = gateways.stateDirLabel(gateway.stateDir.dir);
      const own = <T extends { stateDir?: string }>(list: readonly T[]) => list.filter((r) => r.stateDir === dir);
      const { stateDir, generation: store } = gateway;
      return { stateDir, store, agents: own(reports), unusable: own(unusable) };
    }),
    ...gateways.failed.map((f) => ({ stateDir: { dir: f.dir }, error: failureText(f) })),
  ];
}

function refreshReport(step: RefreshStep): RefreshReport {
  const { command, result } = step;
  if (!result) return { outcome: "would-run", command };
  const report: RefreshReport = {
    outcome: result.outcome,
    command,
    message: refreshMessage(result),
    durationMs: result.run.durationMs,
  };
  return result.outcome === "failed" ? { ...report, reason: result.failure.reason } : report;
}

function refreshMessage(result: RefreshResult): string {
  const after = (login: SourceCredential) =>
    `${fingerprint(login.accessToken)} expires ${formatRelative(login.expiresAt, Date.now())}`;
  switch (result.outcome) {
    case "refreshed":
      return `claude refreshed the login: ${after(result.after)}`;
    case "token-works": {
      const window = formatDuration(CLI_REFRESH_WINDOW_MS);
      return `claude had nothing to refresh yet: it refreshes only within ${window} of expiry`;
    }
    case "failed":
      return `claude could not refresh the login: ${withDetail(result.failure)}`;
    case "skipped":
      return `claude was not run: ${result.reason}`;
  }
}

function withDetail(failure: Failure): string {
  return failure.detail ? `${failure.message} (claude said: ${failure.detail})` : failure.message;
}

function fixFor(failure: Failure | undefined, noRefresh: boolean, login: SourceCredential | undefined, now: number) {
  if (failure?.needsLogin) return loginFixOf(failure);
  if (login && login.expiresAt <= now) {
    if (noRefresh) return "run `moltbot-auth-sync sync` without --no-refresh, so that claude refreshes the login";
    return "make `claude` work on this host (see the refresh error above), then run `moltbot-auth-sync sync` again";
  }
  return "wait for the cooldown to end, or run `moltbot-auth-sync cooldown clear` once its cause is gone";
}

/**
 * After the pass, what each agent is left with: whether its copy of the login's profile is expired or marked, and
 * which of the profiles we wrote its gateway never tries. Failed agents are reported apart.
 */
async function checkAgents(
  gateways: readonly GatewayStores[],
  profileId: string,
  written: readonly string[],
  reports: readonly AgentReport[],
): Promise<{ unusable: Unusable[]; neverTried: Array<{ agent: string; neverTried: NeverTried }> }> {
  const failed = new Set(reports.filter((r) => r.result === "failed").map((r) => agentName(r.agent, r.stateDir)));
  const now = Date.now();
  const unusable: Unusable[] = [];
  const neverTried: Array<{ agent: string; neverTried: NeverTried }> = [];
  for (const stores of gateways) {
    const found = await checkIn(stores, profileId, written, failed, now);
    for (const f of found) {
      if (f.unusable) unusable.push(f.unusable);
      neverTried.push(...f.neverTried.map((n) => ({ agent: agentName(f.agent, stores.stateDir), neverTried: n })));
    }
  }
  return { unusable, neverTried };
}

async function checkIn(
  stores: GatewayStores,
  profileId: string,
  written: readonly string[],
  failed: Set<string>,
  now: number,
) {
  const where = stores.stateDir === undefined ? {} : { stateDir: stores.stateDir };
  // Read as the pass writes, a few at a time: 10,000 stores one after another took seconds.
  const found = await pLimit(AGENT_CONCURRENCY).map(stores.agents, async (agent) => {
    if (failed.has(agentName(agent.id, stores.stateDir))) return undefined;
    const store = await stores.adapter.read(agent.dir).catch(() => undefined);
    const file = stores.adapter.files(agent.dir)[0]!;
    const mode = (id: string) => (id === profileId ? "oauth" : "token");
    const never = written
      .filter((id) => store?.profiles[id] !== undefined)
      .map((id) => neverTried(id, mode(id), stores.auth, store, file))
      .filter((n) => n !== undefined);
    const unusable = unusableOf(store, profileId, now, stores.adapter.usage, { agent: agent.id, ...where });
    return { agent: agent.id, unusable, neverTried: never };
  });
  return found.filter((f) => f !== undefined);
}

/** The agent's copy of the login's profile, when it is expired or marked. */
function unusableOf(
  store: AuthProfileStore | undefined,
  profileId: string,
  now: number,
  usage: GatewayStores["adapter"]["usage"],
  where: Pick<Unusable, "agent" | "stateDir">,
): Unusable | undefined {
  const profile = store?.profiles[profileId];
  if (!profile) return undefined;
  const marking = usage.markings(store?.usageStats, now).find((m) => m.profile === profileId);
  if (marking) return { ...where, why: markingText(marking, now) };
  if (typeof profile.expires === "number" && profile.expires <= now) {
    const why = `${fingerprint(profileSecret(profile))} expired ${formatRelative(profile.expires, now)}`;
    return { ...where, why };
  }
  return undefined;
}
