/**
 * Gathers what `status` reports: the source, the setup-tokens, the state dir and store generation, and every
 * agent's copies and markings, with the verdict. `status` prints it; the daemon's `/healthz` serves it.
 */
import type { Config } from "../config/config.js";
import { mapLimit } from "../core/map-limit.js";
import { profileSecret } from "../reconcile/profile.js";
import { loginOffer, readOffers } from "../sources/index.js";
import { resolveTargets, storeAdapter, targetWarnings, type Targets } from "../stores/targets.js";
import {
  type AgentStatus,
  type SourceStatus,
  type StatusVerdict,
  agentStatus,
  sourceStatus,
  statusVerdict,
} from "./status.js";

export interface StatusReport {
  now: number;
  profile: string;
  verdict: StatusVerdict;
  source: SourceStatus;
  setupTokens: Array<{ profile: string; origin: string }>;
  stateDir: Targets["stateDir"];
  store: Targets["generation"];
  agents: AgentStatus[];
  /** Problems with the gateway config, one line each. */
  warnings: string[];
}

export async function collectStatus(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<StatusReport> {
  const { offers, login, loginError } = await readOffers(config, env);
  const source = sourceStatus(login ?? loginError!);
  const expected = new Map<string, string | undefined>(login ? [] : [[config.profileId, undefined]]);
  for (const offer of offers) expected.set(offer.profileId, profileSecret(offer.profile));
  const loginOptional = !login && offers.length > 0;
  if (loginOptional) expected.delete(config.profileId);
  const targets = await resolveTargets(config, env);
  const now = Date.now();
  const adapter = storeAdapter(targets);
  // A generation that never takes the login's profile (SQLite era, by default) has nothing of it to show.
  const notCopied = adapter.admit?.(config.profileId, login ? loginOffer(login, config).profile : { type: "token" });
  if (notCopied) expected.delete(config.profileId);
  const agents = await mapLimit(targets.agents, 8, (agent) => agentStatus(agent, adapter, expected, now));
  return {
    now,
    profile: config.profileId,
    verdict: statusVerdict(source, agents, now, config.expiryWarning, loginOptional),
    source,
    setupTokens: offers
      .filter((o) => o.kind === "setup-token")
      .map((o) => ({ profile: o.profileId, origin: o.origin })),
    stateDir: targets.stateDir,
    store: targets.generation,
    agents,
    warnings: targetWarnings(targets),
  };
}

/** `status --json`: the report, with what the daemon says of itself. */
export function statusJson(report: StatusReport, daemon: unknown): Record<string, unknown> {
  const { verdict } = report;
  return {
    now: report.now,
    profile: report.profile,
    ...(verdict.why ? { why: verdict.why } : {}),
    source: report.source,
    setupTokens: report.setupTokens,
    stateDir: report.stateDir,
    store: report.store,
    daemon,
    agents: report.agents,
    exitCode: verdict.code,
  };
}
