/**
 * `doctor`: every check is ok, warn or fail, and every warn or fail carries the exact command that fixes
 * it on this host. Checks only read; nothing here writes.
 */
import { stat } from "node:fs/promises";
import { type Config, defaultConfigPath } from "../config/config.js";
import { loginConfigs } from "../config/logins.js";
import { claudeAuthStatus, claudeEnv, runClaude } from "../refresh/claude-runner.js";
import {
  isOurDaemon,
  pidFilePath,
  readDaemonStatus,
  readPid,
  recoveryFilePath,
  runningDaemonPid,
  stateFilePath,
} from "../runtime/files.js";
import { isAlive } from "../core/process-identity.js";
import { formatRelative } from "../core/duration.js";
import { SourceError, messageOf } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import { which } from "../service/host.js";
import { shellQuote } from "../core/terminal-text.js";
import { BUS_HINT, type ServiceState } from "../service/systemd.js";
import { readClaudeLogin, claudeCredentialsFile } from "../sources/index.js";
import { readLoginAccount } from "../sources/claude-account.js";
import { isFenceSecret } from "../reconcile/fence.js";
import { configNeverTries, storeNeverTries } from "../reconcile/profile-order.js";
import { type FenceFinding, accountText, fenceFindings } from "../reconcile/recovery.js";
import { RecoveryBook } from "../pass/recovery-book.js";
import { recoverCommand, unrecoveredWhy } from "../pass/recover.js";
import { readSetupTokens } from "../sources/setup-token.js";
import { tokenFilePath } from "../sources/token-vault.js";
import { adapterFor, generationFor } from "../stores/adapter-for.js";
import { type Check, fail, ok, warn } from "../stores/check.js";
import { staleStoreLocks } from "../stores/leftovers.js";
import type { Agent } from "../stores/discovery/agents.js";
import { anthropicRoute } from "./anthropic-route.js";
import { fleetChecks } from "./fleet-doctor.js";
import {
  type GatewayInstall,
  configuredStateDirs,
  failureText,
  findGateways,
  gatewayAuth,
  holdsGateway,
  storeFile,
} from "../stores/discovery/gateway.js";
import { resolveStateDir } from "../stores/discovery/state-dir.js";

export interface DoctorDeps {
  env?: NodeJS.ProcessEnv;
  /** The service manager's view; injected so the check runs without systemd or launchd. */
  serviceState: () => Promise<ServiceState>;
  configFile?: string;
}

export async function runDoctor(config: Config, deps: DoctorDeps): Promise<Check[]> {
  const env = deps.env ?? process.env;
  const configRef = deps.configFile ?? defaultConfigPath(env);
  const checks: Check[] = [];
  // Each login is checked on its own, and with several, every check about one names it.
  const views = loginConfigs(config);
  const named = (view: Config, list: Check[]): Check[] =>
    config.logins
      ? list.map((c) => ({ ...c, name: `${c.name} ${view.profileId}`, detail: `${view.claudeConfigDir}: ${c.detail}` }))
      : list;
  for (const view of views) {
    checks.push(...named(view, [...(await claudeChecks(view, env, configRef)), await sourceCheck(view, env)]));
  }
  const gateways = await findGateways(config, env).catch((err: unknown) => err as Error);
  if (gateways instanceof Error) checks.push(fail("state dir", messageOf(gateways), await stateDirFix(config, env)));
  const { found, failed } = gateways instanceof Error ? { found: [], failed: [] } : gateways;
  // With stateDirs, each gateway is checked on its own, in the order configured, and its checks name it.
  for (const dir of gateways instanceof Error ? [] : (configuredStateDirs(config, env) ?? [found[0]!.stateDir.dir])) {
    const at = (list: Check[]): Check[] =>
      config.stateDirs ? list.map((c) => ({ ...c, name: `${c.name} ${dir}` })) : list;
    const gateway = found.find((g) => g.stateDir.dir === dir);
    const failure = failed.find((f) => f.dir === dir);
    if (failure) {
      const fix = `mount or create ${shellQuote(dir)} (it is synced once it is there), or remove it from stateDirs`;
      checks.push(...at([fail("state dir", failureText(failure), fix)]));
    }
    if (!gateway) continue;
    checks.push(
      ...at([
        ...stateDirChecks(gateway),
        ...(await generationFor(gateway.generation).doctor(gateway)),
        ...(await fenceChecks(views[0]!, gateway, env)),
      ]),
    );
    for (const view of views) checks.push(...at(named(view, await storeChecks(view, gateway))));
    checks.push(...at(await apiRouteChecks(config, gateway, configRef)));
  }
  const agents = found.flatMap((g) => g.agents);
  checks.push(await permissionsCheck(config, env, agents));
  checks.push(await serviceCheck(deps, env));
  if (config.metrics) checks.push(await metricsCheck(env));
  if (config.fleet) checks.push(...(await fleetChecks(config, config.fleet, env)));
  checks.push(...(await staleChecks(env, agents)));
  return checks;
}

/**
 * Where to look instead of a state dir that cannot be served: a default dir beside it that holds a gateway, else
 * how to find the gateway's. Never the dir refused, which may exist and hold no gateway.
 */
async function stateDirFix(config: Config, env: NodeJS.ProcessEnv): Promise<string> {
  const then = "doctor, then set stateDir in the config";
  const named = config.stateDir === undefined ? undefined : resolveStateDir(config.stateDir, env);
  for (const dir of named?.alsoExisting ?? []) {
    if (await holdsGateway(dir).catch(() => false)) return `moltbot-auth-sync --state-dir ${shellQuote(dir)} ${then}`;
  }
  return `moltbot-auth-sync --state-dir <the gateway's state dir> ${then}`;
}

/** What the running daemon said of its metrics endpoint: a port another process holds is retried, never fatal. */
async function metricsCheck(env: NodeJS.ProcessEnv): Promise<Check> {
  const daemon = await readDaemonStatus(env);
  const metrics = daemon.running ? daemon.metrics : undefined;
  if (!metrics) return ok("metrics", "no running daemon to ask");
  if (metrics.serving) return ok("metrics", `serving ${metrics.url ?? metrics.listen}`);
  const port = metrics.listen.slice(metrics.listen.lastIndexOf(":") + 1);
  return warn(
    "metrics",
    `not serving on ${metrics.listen}: ${metrics.why ?? "unknown"} (binding is retried with backoff; syncing goes on)`,
    `ss -ltnp ${shellQuote(`sport = :${port}`)}   (shows who holds the port; or choose another metrics.listen)`,
  );
}

async function claudeChecks(config: Config, env: NodeJS.ProcessEnv, configRef: string): Promise<Check[]> {
  const found = which(config.claudePath, env.PATH);
  if (!found) {
    const where = shellQuote(configRef);
    const install = `npm install -g @anthropic-ai/claude-code, or set "claudePath" in ${where} to its absolute path`;
    return [fail("claude", `\`${config.claudePath}\` is not on PATH`, install)];
  }
  const childEnv = claudeEnv(config, env);
  const version = await runClaude(found, ["--version"], { env: childEnv, timeoutMs: 10_000 });
  const checks = [
    version.exitCode === 0
      ? ok("claude", `${found}, version ${version.output.trim().split("\n")[0]}`)
      : warn(
          "claude",
          `${found} --version failed (${version.timedOut ? "timed out" : `exit ${version.exitCode}`})`,
          `${shellQuote(found)} --version`,
        ),
  ];
  const auth = await claudeAuthStatus(config, childEnv);
  if (!auth)
    checks.push(
      warn(
        "claude login",
        "`claude auth status --json` gave no answer (older CLI?)",
        "npm install -g @anthropic-ai/claude-code@latest",
      ),
    );
  else if (!auth.loggedIn)
    checks.push(fail("claude login", "claude is not logged in", "claude   (then /login; or `claude auth login`)"));
  else checks.push(ok("claude login", `logged in (${auth.authMethod ?? "unknown method"})`));
  return checks;
}

async function sourceCheck(config: Config, env: NodeJS.ProcessEnv): Promise<Check> {
  try {
    const login = await readClaudeLogin(config, env);
    const now = Date.now();
    const expires = formatRelative(login.expiresAt, now);
    const detail = `${fingerprint(login.accessToken)} expires ${expires} (${login.origin})`;
    if (login.expiresAt <= now)
      return warn(
        "source",
        `${detail}: expired`,
        "moltbot-auth-sync service install   (the daemon has claude refresh it before expiry)",
      );
    return ok("source", detail);
  } catch (err) {
    const tokens = await readSetupTokens(config.setupTokenProfileId, env);
    const problem = err instanceof SourceError ? err.problem : "unreadable";
    const fix =
      problem === "not_logged_in"
        ? "claude   (then /login), or keep a setup-token: claude setup-token | moltbot-auth-sync token set"
        : problem === "unavailable"
          ? 'security unlock-keychain   (or answer "Always Allow"; or use a setup-token: moltbot-auth-sync token set)'
          : `claude   (then /login, so the CLI rewrites ${shellQuote(claudeCredentialsFile(config, env))})`;
    if (tokens.length > 0 && problem === "not_logged_in")
      return warn("source", `${messageOf(err)}; setup-tokens are synced instead`, fix);
    return fail("source", messageOf(err), fix);
  }
}

function stateDirChecks(gateway: GatewayInstall): Check[] {
  const { stateDir, agents, gatewayConfig } = gateway;
  const checks: Check[] = [];
  const detail = `${stateDir.dir} (${stateDir.reason})`;
  checks.push(
    stateDir.alsoExisting.length > 0
      ? warn(
          "state dir",
          `${detail}; also exists: ${stateDir.alsoExisting.join(", ")}`,
          'set "stateDir" in the config to the dir your gateway uses (openclaw/moltbot `config` shows it), ' +
            `e.g. "stateDir": ${JSON.stringify(stateDir.dir)}`,
        )
      : ok("state dir", detail),
  );
  if (gatewayConfig?.error) {
    const detail = `${gatewayConfig.file} cannot be parsed: ${gatewayConfig.error}`;
    checks.push(warn("gateway config", detail, `fix the JSON5 in ${shellQuote(gatewayConfig.file)}`));
  }
  checks.push(ok("agents", `${agents.length}: ${agents.map((a) => a.id).join(", ")}`));
  const fix = `fix agents.list in ${gatewayConfig?.file}`;
  for (const warning of gateway.warnings) checks.push(warn("agents", warning, fix));
  return checks;
}

/** The gateway never tries a profile id that a configured `auth.order` or `auth.profiles` leaves out. */
async function storeChecks(config: Config, gateway: GatewayInstall): Promise<Check[]> {
  const checks: Check[] = [];
  const id = config.profileId;
  // Where the login's profile is never written (SQLite era by default), no order can leave it out.
  if (adapterFor(gateway.generation, gateway.stateDir.dir).admit?.(id, { type: "token" })) return checks;
  const auth = gatewayAuth(gateway);
  const excluded = configNeverTries(id, "oauth", auth);
  if (excluded) {
    const name = Array.isArray((auth?.auth as { order?: { anthropic?: unknown } })?.order?.anthropic)
      ? "gateway order"
      : "gateway profiles";
    checks.push(fail(name, `${excluded.detail}: the gateway never tries it`, excluded.fix));
  }
  const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
  for (const agent of gateway.agents) {
    const store = await adapter.read(agent.dir).catch(() => undefined);
    const found = storeNeverTries(id, store?.order?.anthropic, storeFile(agent));
    if (found) checks.push(fail("gateway order", `agent ${agent.id}: ${found.detail}`, found.fix));
  }
  if (checks.length === 0) checks.push(ok("gateway order", `${id} is not excluded by auth.order or auth.profiles`));
  return checks;
}

/** Whether a stored Anthropic profile could serve a turn now: a credential, not expired or fenced, not marked. */
function usableNow(profile: Record<string, unknown>, marked: boolean, now: number): boolean {
  if (profile.provider !== "anthropic" || marked) return false;
  const expires = typeof profile.expires === "number" ? profile.expires : undefined;
  switch (profile.type) {
    case "token":
      return typeof profile.token === "string" && profile.token !== "" && (expires === undefined || expires > now);
    case "api_key":
      return (typeof profile.key === "string" && profile.key !== "") || profile.keyRef !== undefined;
    case "oauth":
      return typeof profile.access === "string" && !isFenceSecret(profile.access);
    default:
      return false;
  }
}

/**
 * The SQLite era's direct-API route cannot use the Claude login, only a stored profile. An agent on that route with
 * no usable Anthropic profile fails every turn; the login's access token as a `token` profile is one config line
 * away.
 */
async function apiRouteChecks(config: Config, gateway: GatewayInstall, configRef: string): Promise<Check[]> {
  if (gateway.generation.format !== "sqlite") return [];
  const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
  const now = Date.now();
  const stranded: string[] = [];
  for (const agent of gateway.agents) {
    if (anthropicRoute(gateway.gatewayConfig?.value, agent.id) !== "api") continue;
    const store = await adapter.read(agent.dir).catch(() => undefined);
    const usable = Object.entries(store?.profiles ?? {}).some(([id, profile]) =>
      usableNow(profile, adapter.usage.isMarked(store?.usageStats?.[id], now), now),
    );
    if (!usable) stranded.push(agent.id);
  }
  if (stranded.length === 0) return [];
  const detail =
    `agent ${stranded.join(", ")}: Anthropic models run on the direct API route, which cannot use the Claude ` +
    "login, and no usable Anthropic profile is stored";
  // The default id is retired in this generation, so nothing is copied until the config names one of ours.
  const fix = adapter.admit?.(config.profileId, { type: "token" })
    ? `set "profileId": "anthropic:claude-token" in ${shellQuote(configRef)} (the login's access token is then ` +
      "kept there as a token profile), or store a setup-token: claude setup-token | moltbot-auth-sync token set"
    : "moltbot-auth-sync sync   (then see `moltbot-auth-sync status` for why the profile is not usable)";
  return [warn("api route", detail, fix)];
}

/**
 * Where the gateway leaves refresh fences: a profile whose refresh failed for good (fail), and the usual cause before
 * it happens, an `oauth` profile holding the Claude login's own refresh token (warn). One check per profile, naming
 * every agent that reads it.
 */
async function fenceChecks(config: Config, gateway: GatewayInstall, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
  if (!adapter.refreshFences) return [];
  const login = await readClaudeLogin(config, env).catch(() => undefined);
  const account = login ? await readLoginAccount(config, login, env) : {};
  const state = await new RecoveryBook(recoveryFilePath(env), config.lockTimeout)
    .read()
    .catch(() => ({ recovered: [], refreshDigests: [] }));
  const facts = { account, refreshToken: login?.refreshToken, knownDigests: new Set(state.refreshDigests) };
  const found = new Map<string, { finding: FenceFinding; agents: string[] }>();
  for (const agent of gateway.agents) {
    const store = await adapter.read(agent.dir).catch(() => undefined);
    for (const finding of fenceFindings(store, facts).filter((f) => f.kind !== "pending")) {
      const key = `${finding.kind} ${finding.profileId}`;
      const entry = found.get(key) ?? { finding, agents: [] };
      entry.agents.push(agent.id);
      found.set(key, entry);
    }
  }
  const checks: Check[] = [];
  for (const { finding, agents } of found.values()) {
    const { profileId, proof } = finding;
    const fix = recoverCommand({ profileId, ...(agents.length === 1 ? { agent: agents[0]! } : {}) });
    const where = `${agents.join(", ")}: ${profileId}`;
    if (finding.kind === "shared") {
      const race = "whichever of the gateway and claude refreshes it second is logged out";
      const detail = `${where} is an oauth profile holding the Claude login's own refresh token: ${race}`;
      checks.push(warn("refresh fences", detail, `${fix}   (the login's access token instead, kept fresh)`));
      continue;
    }
    const why = unrecoveredWhy(proof, config.autoRecover);
    const detail = `${where}: its refresh failed for good (the gateway never uses it again); ${why}`;
    checks.push(fail("refresh fences", detail, `${fix}   (switches it to ${accountText(account)})`));
  }
  if (checks.length === 0)
    checks.push(ok("refresh fences", "no failed refresh, and no profile holding the Claude login's refresh token"));
  return checks;
}

async function permissionsCheck(config: Config, env: NodeJS.ProcessEnv, agents: readonly Agent[]): Promise<Check> {
  const files = [
    ...loginConfigs(config).map((login) => claudeCredentialsFile(login, env)),
    tokenFilePath(env),
    stateFilePath(env),
    ...agents.map(storeFile),
  ];
  const loose: Array<{ file: string; mode: number }> = [];
  for (const file of files) {
    const mode = await stat(file).then(
      (s) => s.mode & 0o777,
      () => undefined,
    );
    if (mode !== undefined && (mode & 0o077) !== 0) loose.push({ file, mode });
  }
  if (loose.length === 0) return ok("permissions", `${files.length} files are 0600 or missing`);
  const detail = loose.map((l) => `${l.file} (${l.mode.toString(8).padStart(4, "0")})`).join(", ");
  const fix = `chmod 600 ${loose.map((l) => shellQuote(l.file)).join(" ")}`;
  return fail("permissions", `readable by others: ${detail}`, fix);
}

async function serviceCheck(deps: DoctorDeps, env: NodeJS.ProcessEnv): Promise<Check> {
  const pid = await runningDaemonPid(pidFilePath(env));
  const foreground = pid !== undefined ? ` (a daemon runs as pid ${pid})` : "";
  const state = await deps.serviceState().catch((err: unknown): ServiceState => {
    const reason = messageOf(err);
    return { installed: false, active: false, summary: `cannot ask the service manager: ${reason}`, unknown: reason };
  });
  // A check that could not be made is a warning with its reason, whatever else runs.
  if (state.unknown !== undefined) return warn("service", `${state.summary}${foreground}`, serviceHint(state.unknown));
  if (state.active) return ok("service", state.summary);
  if (state.installed)
    return fail(
      "service",
      `${state.summary}${foreground}`,
      "moltbot-auth-sync service install   (re-renders and restarts it; " +
        "`moltbot-auth-sync logs --level warn` shows why it stopped)",
    );
  if (foreground) return ok("service", `${state.summary}${foreground}`);
  return warn("service", state.summary, "moltbot-auth-sync service install");
}

function serviceHint(reason: string): string {
  if (/bus|No medium|XDG_RUNTIME_DIR|not been booted|ENOENT|not found/i.test(reason)) return BUS_HINT;
  return "moltbot-auth-sync service status   (then `moltbot-auth-sync service install` once it answers)";
}

async function staleChecks(env: NodeJS.ProcessEnv, agents: readonly Agent[]): Promise<Check[]> {
  const checks: Check[] = [];
  const pidFile = pidFilePath(env);
  const record = await readPid(pidFile);
  if (record && !isOurDaemon(record)) {
    const what = isAlive(record.pid) ? "which is not a moltbot-auth-sync daemon" : "which is not running";
    const fix = `rm ${shellQuote(pidFile)}   (a new daemon also takes it over by itself)`;
    checks.push(warn("pid file", `${pidFile} names pid ${record.pid}, ${what}`, fix));
  }
  const now = Date.now();
  for (const agent of agents) checks.push(...(await staleStoreLocks(agent.dir, now)));
  if (checks.length === 0) checks.push(ok("stale files", "no stale pid file or store lock"));
  return checks;
}
