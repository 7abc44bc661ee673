/**
 * The run: the whole pipeline once (sources → reconcile → stores). It reads every login, has claude refresh the
 * ones that are due (when asked: `sync` does, the daemon's scheduler refreshes on its own clock), finds the
 * gateways, builds each offer once, runs each login's pass over every gateway and notes which gateways were left
 * without our writes. `sync` runs it once and renders it; the daemon runs it on every trigger and logs it, so
 * the two cannot drift.
 */
import type { Config } from "../config/config.js";
import type { SourceError } from "../core/errors.js";
import type { Occurrence } from "../reconcile/cooldown.js";
import { type Failure, loginFailureOf } from "../reconcile/failure.js";
import { type Offer, loginOffer, setupTokenOffers } from "../reconcile/offer.js";
import { type RefreshResult, Refresher } from "../refresh/refresher.js";
import { noteReloads } from "../runtime/stale-gateways.js";
import { type LoginReading, readClaudeLogin } from "../sources/index.js";
import { inSessions, type UpdateOptions } from "../stores/adapter.js";
import type { SetupToken, SourceCredential } from "../types.js";
import type { AgentReport, GatewayStores } from "./apply.js";
import { type PassResult, runPass } from "./pass.js";
import { PassProgress } from "./progress.js";
import { recoveryContext } from "./recovery-context.js";

/** One login as the run reads it: the daemon's keep what they read before, to tell a change. */
export interface RunLogin {
  /** This login's view of the config (`loginConfigs`). */
  config: Config;
  read: () => Promise<LoginRead>;
  /** The failure of this login's last refresh while it stands (the daemon's scheduler refreshed, not the run). */
  refreshFailure?: () => Failure | undefined;
  /** "new" when this run is the first to see that failure; "ongoing" otherwise. */
  occurrence?: () => Occurrence;
}

/** A login as read now (sources' `LoginReading`, whose view of the config the run already has). */
export interface LoginRead extends Omit<LoginReading, "config"> {
  /** The token or expiry differs from the read before (the daemon's sources tell). */
  changed?: boolean;
}

/** What claude was asked to do before the copy, when the login was due. */
export interface RefreshStep {
  /** The command line run (or, in a dry run, that would run). */
  command: string;
  /** Absent in a dry run. */
  result?: RefreshResult;
}

export interface RunInput {
  logins: readonly RunLogin[];
  /** The setup-tokens, synced once, with the last login. */
  setupTokens: () => Promise<readonly SetupToken[]>;
  /**
   * The gateways to serve, once the logins are read (`offered`: whether anything is offered at all); undefined
   * when they cannot be found now, and nothing is run.
   */
  gateways: (reads: readonly LoginRead[], offered: boolean) => Promise<readonly GatewayStores[] | undefined>;
  options: UpdateOptions;
  /** Have claude refresh each login inside its margin before copying, as `sync` does (see Refresher.runNow). */
  refresh?: { dryRun: boolean; signal: AbortSignal };
  /** Told of each agent's copy of an offer as that agent finishes. */
  onCopy?: (login: RunLogin, offer: Offer, report: AgentReport) => void;
  /** Told how far the copies have come (progress.ts decides when it is worth saying). */
  onProgress?: (done: number, total: number) => void;
  now: () => number;
  env: NodeJS.ProcessEnv;
  /**
   * Told the run once it is done, while the gateways' stores are still in session (StoreAdapter.session): sync
   * renders there, and its check of what each agent is left with reads every store again.
   */
  whileInSession?: (run: Run) => Promise<void>;
}

/** One login's part of the run. */
export interface LoginRun {
  config: Config;
  /** The login the pass copied: after claude's refresh, when it refreshed. */
  login: SourceCredential | undefined;
  error: SourceError | undefined;
  refresh?: RefreshStep;
  /** Why the last refresh failed, while that stands. */
  refreshFailure: Failure | undefined;
  pass: PassResult;
}

export interface Run {
  gateways: readonly GatewayStores[];
  setupOffers: readonly Offer[];
  logins: LoginRun[];
  /** Every login's pass as one. */
  result: PassResult;
}

/** What the run found before any store is touched. */
interface Found {
  reads: readonly LoginRead[];
  refreshes: ReadonlyArray<RefreshStep | undefined>;
}

export async function run(input: RunInput): Promise<Run | undefined> {
  const { logins } = input;
  const reads = await Promise.all(logins.map((login) => login.read()));
  const refreshes = await Promise.all(reads.map((read, i) => refreshIfDue(input, logins[i]!.config, read.login)));
  const taken = new Set(logins.map((login) => login.config.profileId));
  const setupOffers = setupTokenOffers(await input.setupTokens(), taken);
  const offered = setupOffers.length > 0 || reads.some((read) => read.login);
  const gateways = await input.gateways(reads, offered);
  if (!gateways) return undefined;
  return inSessions(
    gateways.map((g) => g.adapter),
    async () => {
      const done = await runLogins(input, { reads, refreshes, setupOffers, gateways });
      await input.whileInSession?.(done);
      return done;
    },
  );
}

/** Each login's pass over the gateways found, merged; the gateways' adapters are in session meanwhile. */
async function runLogins(
  input: RunInput,
  { reads, refreshes, setupOffers, gateways }: Pick<Run, "setupOffers" | "gateways"> & Found,
): Promise<Run> {
  const { logins, env } = input;
  const agents = gateways.reduce((n, g) => n + g.agents.length, 0);
  const progress =
    input.onProgress && new PassProgress(input.now, agents * (logins.length + setupOffers.length), input.onProgress);
  const runs: LoginRun[] = [];
  // One login after another over the same agents: each marks and recovers only its own profile.
  for (const [i, login] of logins.entries()) {
    const { config } = login;
    const refresh = refreshes[i];
    const result = refresh?.result;
    const current = result?.outcome === "refreshed" ? result.after : reads[i]!.login;
    const failed = result?.outcome === "failed" ? result.failure : undefined;
    const refreshFailure = failed ?? login.refreshFailure?.();
    const pass = await runPass({
      stores: gateways,
      config,
      login: current,
      loginOffer: current && loginOffer(current, config),
      loginFailure: reads[i]!.error && loginFailureOf(reads[i]!.error),
      refreshFailure,
      setupOffers: i === logins.length - 1 ? setupOffers : [],
      options: input.options,
      occurrence: failed ? "new" : (login.occurrence?.() ?? "ongoing"),
      recovery: recoveryContext(config, env),
      onCopy: (offer, report) => {
        input.onCopy?.(login, offer, report);
        progress?.done();
      },
    });
    const error = reads[i]!.error;
    runs.push({ config, login: current, error, ...(refresh ? { refresh } : {}), refreshFailure, pass });
  }
  const result = mergePasses(runs.map((r) => r.pass));
  // Recorded for `status` and the next start: which running gateway did not pick up our writes.
  await noteReloads(
    (result.reloads ?? []).map((r) => r.reload),
    input.now(),
    env,
  );
  return { gateways, setupOffers, logins: runs, result };
}

/** Sync's refresh: only inside the margin, never for a login past its end (Refresher.isDue). */
async function refreshIfDue(
  input: RunInput,
  config: Config,
  login: SourceCredential | undefined,
): Promise<RefreshStep | undefined> {
  // In a fleet only the elected host's daemon runs claude (docs/fleet.md): a `sync` beside it would race it.
  if (!input.refresh || !login || config.fleet) return undefined;
  const refresher = new Refresher(() => readClaudeLogin(config, input.env), input.env, input.refresh.signal);
  if (!refresher.isDue(login, config, input.now(), false)) return undefined;
  if (input.refresh.dryRun) return { command: refresher.commandLine(login, config, false) };
  return refresher.runNow(login, config);
}

/** The passes of every login as one: their copies in order, and their markings' reports together. */
function mergePasses(results: readonly PassResult[]): PassResult {
  if (results.length === 1) return results[0]!;
  const copies = results.flatMap((r) => r.copies);
  const reloads = results.flatMap((r) => r.reloads ?? []);
  const markings = results.flatMap((r) => (r.marking ? [r.marking] : []));
  const merged: PassResult = { copies, ...(reloads.length ? { reloads } : {}) };
  if (markings.length === 0) return merged;
  return { ...merged, marking: { failure: markings[0]!.failure, reports: markings.flatMap((m) => m.reports) } };
}
