/**
 * Gathers what `status` reports: the source, the setup-tokens, the state dir and store generation, and every
 * agent's copies and markings, with the verdict. `status` prints it; the daemon's `/healthz` serves it.
 */
import type { Config } from "../config/config.js";
import pLimit from "p-limit";
import { profileSecret } from "../reconcile/profile.js";
import { loginOffer, readOffers } from "../sources/index.js";
import { adapterFor } from "../stores/adapter.js";
import { type GatewayInstall, findGateway, gatewayWarnings } from "../stores/gateway.js";
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
  /** Each setup-token offered, with its expiry when known. */
  setupTokens: Array<{ profile: string; origin: string; expires?: number }>;
  stateDir: GatewayInstall["stateDir"];
  store: GatewayInstall["generation"];
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
  const gateway = await findGateway(config, env);
  const now = Date.now();
  const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
  // A generation that never takes the login's profile (SQLite era, by default) has nothing of it to show.
  const notCopied = adapter.admit?.(config.profileId, login ? loginOffer(login, config).profile : { type: "token" });
  if (notCopied) expected.delete(config.profileId);
  const agents = await pLimit(8).map(gateway.agents, (agent) => agentStatus(agent, adapter, expected, now));
  const tokens = offers
    .filter((o) => o.kind === "setup-token")
    .map((o) => ({ profileId: o.profileId, origin: o.origin, expires: o.profile.expires }));
  return {
    now,
    profile: config.profileId,
    verdict: statusVerdict(source, agents, now, config.expiryWarning, loginOptional, tokens),
    source,
    setupTokens: tokens.map((t) => ({
      profile: t.profileId,
      origin: t.origin,
      ...(t.expires !== undefined ? { expires: t.expires } : {}),
    })),
    stateDir: gateway.stateDir,
    store: gateway.generation,
    agents,
    warnings: gatewayWarnings(gateway),
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
