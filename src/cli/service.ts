/** `moltbot-auth-sync service install|uninstall|status`: from nothing to a supervised daemon, and back. */
import { AuthSyncError } from "../core/errors.js";
import { currentUser, hostFacts, lookupUser } from "../service/host.js";
import { launchdInstallPlan, launchdStatus, launchdUninstallPlan } from "../service/launchd.js";
import { type ServicePlan, describePlan, execaRunner, executePlan } from "../service/plan.js";
import {
  type ServiceState,
  type SystemdScope,
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

type ServiceManager =
  { manager: "systemd"; systemd: SystemdScope } | { manager: "launchd"; user: ReturnType<typeof currentUser> };

function resolveServiceManager(options: ServiceOptions): ServiceManager {
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
  const service = resolveServiceManager(options);
  const host = hostFacts(config, process.env, service.manager === "systemd" ? service.systemd.user : undefined);
  const plan =
    service.manager === "launchd"
      ? await launchdInstallPlan(config, host, service.user)
      : await systemdInstallPlan(config, host, service.systemd);
  if (service.manager === "systemd" && service.systemd.scope === "user") {
    const note = await lingerNote(execaRunner, service.systemd.user);
    if (note) plan.notes.push(note);
  }
  await carryOut(plan, options);
  if (!options.dryRun)
    process.stdout.write(
      `installed; \`moltbot-auth-sync service status\` and \`moltbot-auth-sync logs\` show how it runs\n`,
    );
}

export async function serviceUninstallCommand(options: ServiceOptions): Promise<void> {
  const service = resolveServiceManager(options);
  const plan =
    service.manager === "launchd" ? launchdUninstallPlan(service.user) : systemdUninstallPlan(service.systemd);
  await carryOut(plan, options);
}

export function serviceState(service: ServiceManager): Promise<ServiceState> {
  return service.manager === "launchd"
    ? launchdStatus(execaRunner, service.user)
    : systemdStatus(execaRunner, service.systemd);
}

export async function serviceStatusCommand(options: ServiceOptions): Promise<void> {
  const state = await serviceState(resolveServiceManager(options));
  if (options.json) printJson(state);
  else printLines([state.summary]);
  if (!state.active) process.exitCode = 1;
}

export { resolveServiceManager };
