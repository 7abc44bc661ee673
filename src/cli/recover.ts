/**
 * `moltbot-auth-sync recover [--agent <id>] [--profile <id>] [--dry-run] [--json]`: by hand, what a pass does on its
 * own for a provably same account (pass/recover.ts): every profile whose refresh failed for good (and every `oauth`
 * profile holding the Claude login's own refresh token, before it breaks) becomes the login's current access token as
 * a `token` profile, its markings cleared, and is kept fresh from then on.
 */
import type { Config } from "../config/config.js";
import { loginConfigs } from "../config/logins.js";
import { formatRelative } from "../core/duration.js";
import { AuthSyncError, ExitError, messageOf } from "../core/errors.js";
import { fingerprint } from "../core/fingerprint.js";
import { recoveryContext } from "../pass/recovery-context.js";
import { type AgentReport, updateAgent } from "../pass/apply.js";
import { recoveredReason } from "../pass/recover.js";
import type { RecoveredProfile } from "../pass/recovery-book.js";
import { desiredProfile } from "../reconcile/profile.js";
import {
  type LoginAccount,
  accountText,
  recoverProfile,
  recoverable,
  sameAccountProof,
} from "../reconcile/recovery.js";
import { isFailedFence, isPendingFence } from "../reconcile/fence.js";
import { readClaudeLogin } from "../sources/index.js";
import { readLoginAccount } from "../sources/claude-account.js";
import { adapterFor } from "../stores/adapter-for.js";
import { findGateway } from "../stores/discovery/gateway.js";
import type { AuthProfileStore, SourceCredential, TokenProfile } from "../types.js";
import { type GlobalOptions, loadCommandConfig, printJson, writeOptions } from "./options.js";
import { columns, printLines } from "./print.js";
import { reloadAfterWrites, staleWarnings } from "./gateway-reload.js";
import { inSessions } from "../stores/adapter.js";

export interface RecoverOptions extends GlobalOptions {
  agent?: string;
  profile?: string;
  dryRun?: boolean;
  json?: boolean;
}

interface Login {
  view: Config;
  credential: SourceCredential;
  account: LoginAccount;
}

export async function recoverCommand(options: RecoverOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const gateway = await findGateway(config);
  const agents = options.agent ? gateway.agents.filter((a) => a.id === options.agent) : gateway.agents;
  if (agents.length === 0) {
    const found = gateway.agents.map((a) => a.id).join(", ");
    throw new AuthSyncError(`no agent "${options.agent}" (found: ${found})`, "usage");
  }
  const adapter = adapterFor(gateway.generation, gateway.stateDir.dir);
  const stores = new Map<string, AuthProfileStore | undefined>();
  await inSessions([adapter], async () => {
    for (const agent of agents) stores.set(agent.id, await adapter.read(agent.dir).catch(() => undefined));
  });
  const login = await chooseLogin(config, [...stores.values()]);
  const { credential } = login;
  const now = Date.now();
  if (credential.expiresAt <= now) {
    const when = formatRelative(credential.expiresAt, now);
    const expired = `the Claude login's token ${fingerprint(credential.accessToken)} expired ${when}`;
    throw new AuthSyncError(`${expired}: run \`moltbot-auth-sync sync\` first, so that claude refreshes it`, "usage");
  }
  // A live profile holding the login's refresh token is switched only when named: it still works today.
  const wanted = (id: string, profile: Record<string, unknown>) =>
    options.profile === undefined ? isFailedFence(profile) : id === options.profile;
  const targets = agents.flatMap((agent) =>
    Object.entries(stores.get(agent.id)?.profiles ?? {})
      .filter(([id, profile]) => wanted(id, profile) && recoverable(id, profile, credential.refreshToken))
      .map(([id]) => ({ agent, profileId: id })),
  );
  if (targets.length === 0)
    return nothingToRecover(
      options,
      agents.map((a) => a.id),
      stores,
    );

  const desired = desiredProfile(credential, "token") as TokenProfile;
  const rules = { usage: adapter.usage, refreshToken: credential.refreshToken };
  const writing = await writeOptions(config, options.dryRun);
  const reports: AgentReport[] = [];
  await inSessions([adapter], async () => {
    for (const { agent, profileId } of targets) {
      const change = (store: AuthProfileStore) => recoverProfile(store, profileId, desired, rules);
      const report = await updateAgent(agent, adapter, profileId, change, writing);
      reports.push(report.result === "written" ? { ...report, reason: recoveredReason("recover") } : report);
    }
  });
  // A gateway that keeps its stores in memory would go on skipping the profile until told to re-read them.
  const reloads = options.dryRun ? [] : await reloadAfterWrites(config, { agents, adapter }, reports);
  const done = reports.filter((r) => r.result === "written" || r.result === "unchanged");
  const recovered: RecoveredProfile[] = done.map((r) => ({
    stateDir: gateway.stateDir.dir,
    profileId: r.profile,
    login: login.view.profileId,
    at: now,
  }));
  let noted: string | undefined;
  if (!options.dryRun) {
    const { book } = recoveryContext(login.view);
    noted = await book.note([], recovered).then(
      () => undefined,
      (err: unknown) => `cannot write ${book.file}: ${messageOf(err)}; the profile is not kept fresh until it is`,
    );
  }
  const expires = formatRelative(credential.expiresAt, now);
  const offered = `${fingerprint(credential.accessToken)} (token, expires ${expires})`;
  if (options.json) {
    printJson({
      dryRun: Boolean(options.dryRun),
      login: {
        profileId: login.view.profileId,
        origin: credential.origin,
        fingerprint: fingerprint(credential.accessToken),
        expiresAt: credential.expiresAt,
        account: login.account,
      },
      agents: reports,
      ...(reloads.length ? { reloads } : {}),
    });
  } else {
    const prefix = options.dryRun ? "dry run: " : "";
    const lines = [`${prefix}← ${offered} from ${credential.origin}, account ${accountText(login.account)}`];
    const result = (r: AgentReport) => (options.dryRun && r.result === "written" ? "would recover" : r.result);
    lines.push(...columns(reports.map((r) => [r.agent, r.profile, result(r), r.reason ?? ""])));
    printLines(lines);
  }
  printLines([...(noted ? [`warning: ${noted}`] : []), ...staleWarnings(reloads)], process.stderr);
  if (reports.some((r) => r.result === "failed" || r.result === "skipped")) throw new ExitError(1);
}

/**
 * The login to recover with: with several `logins`, the first whose account a profile to recover provably is (by
 * its identity or its refresh token), else the first that can be read.
 */
async function chooseLogin(config: Config, stores: ReadonlyArray<AuthProfileStore | undefined>): Promise<Login> {
  const logins: Login[] = [];
  let firstError: unknown;
  for (const view of loginConfigs(config)) {
    try {
      const credential = await readClaudeLogin(view);
      logins.push({ view, credential, account: await readLoginAccount(view, credential) });
    } catch (err) {
      firstError ??= err;
    }
  }
  if (logins.length === 0) throw firstError;
  const proves = (login: Login) =>
    stores.some((store) =>
      Object.entries(store?.profiles ?? {}).some(
        ([id, profile]) =>
          recoverable(id, profile, login.credential.refreshToken) &&
          sameAccountProof(id, profile, { account: login.account, refreshToken: login.credential.refreshToken }),
      ),
    );
  return logins.find(proves) ?? logins[0]!;
}

function nothingToRecover(
  options: RecoverOptions,
  agents: readonly string[],
  stores: ReadonlyMap<string, AuthProfileStore | undefined>,
): void {
  const looked = `looked in ${agents.join(", ")}`;
  if (options.profile === undefined) {
    const none = "no profile whose refresh failed";
    printLines([`${none} (${looked}): nothing to recover`]);
    return;
  }
  const id = options.profile;
  const held = [...stores.values()].map((s) => s?.profiles[id]).filter((p) => p !== undefined);
  const pending = held.some(isPendingFence);
  const why =
    held.length === 0
      ? `no agent holds ${id}`
      : pending
        ? `the gateway is refreshing ${id} now (a pending refresh fence); run this again once it has settled`
        : `${id} is no failed refresh and holds no refresh token of the Claude login`;
  throw new AuthSyncError(`${why} (${looked}): nothing to recover`, "usage");
}
