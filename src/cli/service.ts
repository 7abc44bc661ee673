/** `moltbot-auth-sync service install|uninstall|status`: from nothing to a supervised daemon, and back. */
import { AuthSyncError } from "../core/errors.js";
import { currentUser, hostFacts, lookupUser } from "../service/host.js";
import { launchdInstallPlan, launchdStatus, launchdUninstallPlan } from "../service/launchd.js";
import { type ServicePlan, describePlan, execaRunner, executePlan } from "../service/plan.js";
import {
  type ServiceState,
  type SystemdTarget,
  defaultUnitDir,
  lingerNote,
  systemdInstallPlan,
  systemdStatus,
  systemdUninstallPlan,
} from "../service/systemd.js";
import { type GlobalOptions, loadCommandConfig, printJson } from "./options.js";
import { printLines } from "./print.js";

export interface ServiceOptions extends GlobalOptions {
  user?: boolean;
  system?: string;
  manager?: string;
  unitDir?: string;
  dryRun?: boolean;
  json?: boolean;
}

type Target =
  { manager: "systemd"; systemd: SystemdTarget } | { manager: "launchd"; user: ReturnType<typeof currentUser> };

function resolveTarget(options: ServiceOptions): Target {
  if (options.user && options.system) throw new AuthSyncError("use --user or --system USER, not both", "usage");
  const manager = options.manager ?? (process.platform === "darwin" ? "launchd" : "systemd");
  if (manager === "launchd") {
    if (options.system)
      throw new AuthSyncError(
        "launchd: only a per-user LaunchAgent is supported; run without --system, as that user",
        "usage",
      );
    return { manager, user: currentUser() };
  }
  if (manager !== "systemd") throw new AuthSyncError(`--manager ${manager}: expected systemd or launchd`, "usage");
  const scope = options.system ? "system" : "user";
  const user = options.system ? lookupUser(options.system) : currentUser();
  return {
    manager,
    systemd: { scope, user, unitDir: options.unitDir ?? defaultUnitDir(scope, process.env, user.home) },
  };
}

async function carryOut(plan: ServicePlan, options: ServiceOptions): Promise<void> {
  if (options.dryRun) {
    printLines(["dry run: nothing is written or run", ...describePlan(plan)]);
  } else {
    await executePlan(plan, execaRunner, (line) => printLines([line]));
  }
  printLines(plan.notes);
}

export async function serviceInstallCommand(options: ServiceOptions): Promise<void> {
  const { config } = await loadCommandConfig(options);
  const target = resolveTarget(options);
  const host = hostFacts(config);
  const plan =
    target.manager === "launchd"
      ? await launchdInstallPlan(config, host, target.user)
      : await systemdInstallPlan(config, host, target.systemd);
  if (target.manager === "systemd" && target.systemd.scope === "user") {
    const note = await lingerNote(execaRunner, target.systemd.user);
    if (note) plan.notes.push(note);
  }
  await carryOut(plan, options);
  if (!options.dryRun)
    process.stdout.write(
      `installed; \`moltbot-auth-sync service status\` and \`moltbot-auth-sync logs\` show how it runs\n`,
    );
}

export async function serviceUninstallCommand(options: ServiceOptions): Promise<void> {
  const target = resolveTarget(options);
  const plan = target.manager === "launchd" ? launchdUninstallPlan(target.user) : systemdUninstallPlan(target.systemd);
  await carryOut(plan, options);
}

export function serviceState(target: Target): Promise<ServiceState> {
  return target.manager === "launchd"
    ? launchdStatus(execaRunner, target.user)
    : systemdStatus(execaRunner, target.systemd);
}

export async function serviceStatusCommand(options: ServiceOptions): Promise<void> {
  const state = await serviceState(resolveTarget(options));
  if (options.json) printJson(state);
  else printLines([state.summary]);
  if (!state.active) process.exitCode = 1;
}

export { resolveTarget };
