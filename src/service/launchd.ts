/**
 * launchd: a LaunchAgent in the user's GUI domain, loaded with `launchctl bootstrap` and restarted with
 * `kickstart`.
 */
import path from "node:path";
import type { Config } from "../config/config.js";
import { type HostFacts, type ServiceUser, claudeNotes } from "./host.js";
import type { Runner, ServicePlan } from "./plan.js";
import type { ServiceState } from "./systemd.js";
import { LAUNCHD_LABEL, renderUnit } from "./units.js";

export function plistPath(user: ServiceUser): string {
  return path.join(user.home, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`);
}

export function launchdLogDir(user: ServiceUser): string {
  return path.join(user.home, "Library", "Logs", "moltbot-auth-sync");
}

const domain = (user: ServiceUser) => `gui/${user.uid}`;
const service = (user: ServiceUser) => `${domain(user)}/${LAUNCHD_LABEL}`;

export async function launchdInstallPlan(config: Config, host: HostFacts, user: ServiceUser): Promise<ServicePlan> {
  const plist = plistPath(user);
  const content = await renderUnit("launchd", {
    node: host.node,
    entry: host.entry,
    path: host.path,
    home: user.home,
    logDir: launchdLogDir(user),
  });
  return {
    write: [{ path: plist, content }],
    remove: [],
    steps: [
      { argv: ["mkdir", "-p", launchdLogDir(user)] },
      // Re-installing replaces a loaded job; bootstrap refuses a label that is already loaded.
      { argv: ["launchctl", "bootout", service(user)], mayFail: true },
      {
        argv: ["launchctl", "bootstrap", domain(user), plist],
        hint: "run it from your own login session (not sudo, not a bare SSH session without a GUI login)",
      },
      { argv: ["launchctl", "kickstart", "-k", service(user)] },
    ],
    notes: [...claudeNotes(config, host), `logs: ${launchdLogDir(user)}/daemon.log (or \`moltbot-auth-sync logs\`)`],
    undo: { fresh: [{ argv: ["launchctl", "bootout", service(user)] }], after: [] },
  };
}

export function launchdUninstallPlan(user: ServiceUser): ServicePlan {
  return {
    write: [],
    remove: [plistPath(user)],
    steps: [{ argv: ["launchctl", "bootout", service(user)], mayFail: true }],
    notes: [],
  };
}

export async function launchdStatus(run: Runner, user: ServiceUser): Promise<ServiceState> {
  const r = await run(["launchctl", "print", service(user)]);
  if (r.exitCode !== 0) return { installed: false, active: false, summary: `${LAUNCHD_LABEL} not loaded` };
  const field = (name: string) => new RegExp(`^\\s*${name} = (.+)$`, "m").exec(r.stdout)?.[1]?.trim();
  const state = field("state") ?? "unknown";
  const pid = Number(field("pid")) || undefined;
  const lastExit = field("last exit code");
  return {
    installed: true,
    active: state === "running",
    summary: `${LAUNCHD_LABEL} ${state}${pid ? `, pid ${pid}` : ""}${lastExit ? `, last exit ${lastExit}` : ""}`,
    ...(pid ? { pid } : {}),
    ...(lastExit ? { lastExit } : {}),
  };
}
