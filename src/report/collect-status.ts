/**
 * Gathers what `status` reports: the source, the setup-tokens, the state dir and store generation, and every
 * agent's copies and markings, with the verdict. `status` prints it; the daemon's `/healthz` serves it.
 */
import type { Config } from "../config/config.js";
import pLimit from "p-limit";
import { profileSecret } from "../reconcile/profile.js";
import { loginProfileIds } from "../config/logins.js";
import { loginOffer, setupTokenOffers } from "../reconcile/offer.js";
import { readSources } from "../sources/index.js";
import { type FleetReading, readFleet, withFleetTokens, withPublishedLogin } from "../fleet/published.js";
import { adapterFor } from "../stores/adapter-for.js";
import { type DatabaseFinding, inspectDatabases } from "../stores/sqlite/inspect.js";
import { type LockFolderProblem, lockFolderProblem } from "../stores/sqlite/lock-folder.js";
import {
  type GatewayFailure,
  type GatewayInstall,
  configuredStateDirs,
  failureText,
  findGateways,
  agentName,
  gatewayAuth,
  gatewayWarnings,
} from "../stores/discovery/gateway.js";
import { neverTriedLines } from "../reconcile/profile-order.js";
import { type TokenBook, readTokenBook } from "../sources/token-book.js";
import { recoveryFilePath } from "../runtime/files.js";
import { RecoveryBook, isRecovered } from "../pass/recovery-book.js";
import { sharedText, unrecoveredText } from "../pass/recover.js";
import { readLoginAccount } from "../sources/claude-account.js";
import type { SourceCredential } from "../types.js";
import { inSessions } from "../stores/adapter.js";
import {
  type AgentStatus,
  type StatusRecovery,
  type SourceStatus,
  type StatusVerdict,
  agentStatus,
  sourceStatus,
  STATUS_EXPIRING,
  STATUS_UNUSABLE,
  statusVerdict,
} from "./status.js";

export interface StatusReport {
  now: number;
  profile: string;
  verdict: StatusVerdict;
  source: SourceStatus;
  /** With `logins` configured: each login, its config dir and its source (`source` is the first's). */
  logins?: Array<{ profileId: string; claudeConfigDir: string | undefined; source: SourceStatus }>;
  /** Each setup-token offered, with its expiry when known. */
  setupTokens: Array<{ profile: string; origin: string; expires?: number }>;
  /** The one gateway's, without `stateDirs` (with it, see `gateways`). */
  stateDir?: GatewayInstall["stateDir"];
  store?: GatewayInstall["generation"];
  /** SQLite era: each database's schema version and whether its shape is served. */
  schemas?: DatabaseFinding[];
  /** Every gateway's agents; with `stateDirs` each names its state dir. */
  agents: AgentStatus[];
  /** With `stateDirs` configured: each state dir, its generation and its agents, or why it cannot be served. */
  gateways?: GatewayStatus[];
  /** The gateway's SQLite lock folder, when another user holds it (or it is not private): no SQLite write happens. */
  lockFolder?: LockFolderProblem;
  /** Problems with the gateway config, one line each. */
  warnings: string[];
}

export type GatewayStatus =
  | {
      stateDir: GatewayInstall["stateDir"];
      store: GatewayInstall["generation"];
      schemas?: DatabaseFinding[];
      agents: AgentStatus[];
    }
  | { stateDir: { dir: string }; error: string };

/** `fleetNow`: what the fleet published; by default read from etcd once, the daemon's /healthz gives its own. */
export async function collectStatus(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  fleetNow: () => Promise<FleetReading | undefined> = () => readFleet(config, env),
): Promise<StatusReport> {
  const [own, fleet] = await Promise.all([readSources(config, env), fleetNow()]);
  // In a fleet, what it published serves beside what this host holds, as the daemon and `sync` take it.
  const readings = {
    logins: own.logins.map((r) => withPublishedLogin(r, fleet?.logins.get(r.config.profileId))),
    setupTokens: withFleetTokens(own.setupTokens, fleet?.setupTokens ?? []),
  };
  const reads = readings.logins;
  const first = reads[0]!.config;
  const login = reads[0]!.login;
  const loginOffers = reads.flatMap((r) => (r.login ? [loginOffer(r.login, r.config)] : []));
  const tokenOffers = setupTokenOffers(readings.setupTokens, new Set(loginProfileIds(config)));
  const loginOptional = !reads.some((r) => r.login) && tokenOffers.length > 0;
  const expected = new Map<string, string | undefined>();
  for (const r of reads) if (!r.login && !loginOptional) expected.set(r.config.profileId, undefined);
  for (const offer of [...loginOffers, ...tokenOffers]) expected.set(offer.profileId, profileSecret(offer.profile));
  const gateways = await findGateways(config, env);
  const loginIds = new Set(loginProfileIds(config));
  const book = await readTokenBook(env).catch((): TokenBook => ({}));
  const now = Date.now();
  const limit = pLimit(8);
  const found = await Promise.all(
    gateways.found.map(async (gateway) => {
      const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
      // A generation that never takes the login's profile (SQLite era, by default) has nothing of it to show.
      const own = new Map(expected);
      for (const r of reads) {
        const desired = r.login ? loginOffer(r.login, r.config).profile : { type: "token" };
        if (adapter.admit?.(r.config.profileId, desired)) own.delete(r.config.profileId);
      }
      const stateDir = gateways.stateDirLabel(gateway.stateDir.dir);
      const where = stateDir === undefined ? {} : { stateDir };
      const recovery = adapter.refreshFences
        ? await statusRecovery(first, login, gateway.stateDir.dir, stateDir, env)
        : undefined;
      const agents = await inSessions([adapter], () =>
        limit.map(gateway.agents, async (agent) => ({
          ...(await agentStatus(agent, adapter, own, now, recovery, { auth: gatewayAuth(gateway), loginIds, book })),
          ...where,
        })),
      );
      const sqlite = gateway.generation.format === "sqlite";
      const schemas = sqlite ? await inspectDatabases(gateway.stateDir.dir, gateway.agents, env) : undefined;
      return { stateDir: gateway.stateDir, store: gateway.generation, ...(schemas ? { schemas } : {}), agents };
    }),
  );
  const agents = found.flatMap((g) => g.agents);
  const tokens = tokenOffers.map((o) => ({ profileId: o.profileId, origin: o.origin, expires: o.profile.expires }));
  const logins = reads.map((r) => ({
    profileId: r.config.profileId,
    claudeConfigDir: r.config.claudeConfigDir,
    source: sourceStatus(r.login ?? r.error!),
  }));
  // The worst of the logins' verdicts; a login's own source problem is named by its profile.
  // A login that cannot be read is the cause; its profile missing in the agents is only the effect.
  const unreadFirst = [...logins].sort((a, b) => Number(a.source.ok) - Number(b.source.ok));
  const verdicts = unreadFirst.map((l) => {
    const verdict = statusVerdict(l.source, agents, now, config, loginOptional, tokens);
    const sourceWhy = (!l.source.ok && verdict.why === l.source.error) || verdict.aboutLogin;
    return config.logins && sourceWhy ? { ...verdict, why: `${l.profileId}: ${verdict.why}` } : verdict;
  });
  // A state dir that cannot be served leaves its agents without a credential we kept: as bad as unusable.
  for (const f of gateways.failed) verdicts.push({ code: STATUS_UNUSABLE, why: failureText(f) });
  // Written, but never tried by the gateway: worth a look (2), with the edit that fixes it.
  const never = agents.flatMap((a) =>
    (a.neverTried ?? []).map((n) => ({ agent: agentName(a.agent, a.stateDir), neverTried: n })),
  );
  for (const line of neverTriedLines(never)) verdicts.push({ code: STATUS_EXPIRING, why: line });
  // Only the SQLite era writes under the gateway's lock folder; one we cannot use stops every SQLite write.
  const sqlite = gateways.found.some((g) => g.generation.format === "sqlite");
  const lockFolder = sqlite ? await lockFolderProblem() : undefined;
  if (lockFolder) verdicts.push({ code: STATUS_UNUSABLE, why: `${lockFolder.detail}. Fix: ${lockFolder.fix}` });
  const verdict = verdicts.reduce((worst, v) => (severity(v.code) > severity(worst.code) ? v : worst));
  return {
    ...(lockFolder ? { lockFolder } : {}),
    now,
    profile: first.profileId,
    verdict,
    source: logins[0]!.source,
    ...(config.logins ? { logins } : {}),
    setupTokens: tokens.map((t) => ({
      profile: t.profileId,
      origin: t.origin,
      ...(t.expires !== undefined ? { expires: t.expires } : {}),
    })),
    ...(config.stateDirs
      ? { gateways: inConfigOrder(configuredStateDirs(config, env)!, found, gateways.failed) }
      : found[0]),
    agents,
    warnings: [
      ...(fleet?.warning ? [fleet.warning] : []),
      ...gateways.found.flatMap((gateway) => {
        const where = gateways.stateDirLabel(gateway.stateDir.dir);
        return gatewayWarnings(gateway).map((w) => (where ? `${where}: ${w}` : w));
      }),
    ],
  };
}

/** How a gateway that leaves refresh fences is judged: the first login's facts, and what we recovered in it. */
async function statusRecovery(
  config: Config,
  login: SourceCredential | undefined,
  dir: string,
  named: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<StatusRecovery> {
  const state = await new RecoveryBook(recoveryFilePath(env), config.lockTimeout)
    .read()
    .catch(() => ({ recovered: [], refreshDigests: [] }));
  const account = login ? await readLoginAccount(config, login, env) : {};
  const where = named === undefined ? {} : { stateDir: named };
  return {
    facts: { account, refreshToken: login?.refreshToken, knownDigests: new Set(state.refreshDigests) },
    accessToken: login?.accessToken,
    recovered: (profileId) => isRecovered(state, dir, profileId) !== undefined,
    advice: (agent, finding) => {
      if (finding.kind === "pending") return undefined;
      const at = { agents: [agent], profileId: finding.profileId, ...where };
      if (finding.kind === "shared") return sharedText(at);
      return unrecoveredText(
        { ...at, ...(finding.proof ? { proof: finding.proof } : {}), account },
        config.autoRecover,
      );
    },
  };
}

/** The gateways found and those that failed, as `stateDirs` lists them. */
function inConfigOrder(dirs: string[], found: GatewayStatus[], failed: readonly GatewayFailure[]): GatewayStatus[] {
  const all = [...found, ...failed.map((f) => ({ stateDir: { dir: f.dir }, error: failureText(f) }))];
  return dirs.flatMap((dir) => all.filter((g) => g.stateDir.dir === dir));
}

/** Unusable (1) is worse than expiring (2), which is worse than fine (0). */
const severity = (code: number) => (code === 1 ? 2 : code === 2 ? 1 : 0);

/** `status --json`: the report, with what the daemon says of itself. */
export function statusJson(report: StatusReport, daemon: unknown): Record<string, unknown> {
  const { verdict } = report;
  return {
    now: report.now,
    profile: report.profile,
    ...(verdict.why ? { why: verdict.why } : {}),
    source: report.source,
    ...(report.logins ? { logins: report.logins } : {}),
    setupTokens: report.setupTokens,
    // With stateDirs, each gateway in its own entry; without, the one state dir at the top.
    ...(report.gateways
      ? {}
      : { stateDir: report.stateDir, store: report.store, ...(report.schemas ? { schemas: report.schemas } : {}) }),
    daemon,
    ...(report.gateways ? { gateways: report.gateways } : { agents: report.agents }),
    ...(report.lockFolder ? { lockFolder: report.lockFolder } : {}),
    exitCode: verdict.code,
  };
}
