/** systemd: a user unit (`systemctl --user`), or a hardened system unit for one user (`moltbot-auth-sync@USER`). */
import path from "node:path";
import type { Config } from "../config/config.js";
import { type HostFacts, type ServiceUser, claudeNotes, readWritePaths } from "./host.js";
import type { Runner, ServicePlan } from "./plan.js";
import { SERVICE_NAME, renderPathsDropIn, renderUnit } from "./units.js";

export interface SystemdScope {
  /** `user` runs `systemctl --user` for the invoking user; `system` a template instance for `user`. */
  scope: "user" | "system";
  user: ServiceUser;
  /** Where unit files go. */
  unitDir: string;
}

export function defaultUnitDir(scope: "user" | "system", env: NodeJS.ProcessEnv, home: string): string {
  return scope === "system"
    ? "/etc/systemd/system"
    : path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "systemd", "user");
}

export function unitName(systemd: SystemdScope): string {
  return systemd.scope === "system" ? `${SERVICE_NAME}@${systemd.user.name}.service` : `${SERVICE_NAME}.service`;
}

const systemctl = (systemd: SystemdScope, ...args: string[]) =>
  systemd.scope === "user" ? ["systemctl", "--user", ...args] : ["systemctl", ...args];

export const BUS_HINT =
  "no systemd user manager is reachable (no login session, or no systemd here, as in most containers); " +
  "run `loginctl enable-linger $USER` and log in again, or install with --system USER as root; " +
  "without systemd, run `moltbot-auth-sync run` under the supervisor you have";

export async function systemdInstallPlan(config: Config, host: HostFacts, systemd: SystemdScope): Promise<ServicePlan> {
  const values = { node: host.node, entry: host.entry, path: host.path, home: systemd.user.home, logDir: "" };
  // Agents the gateway config names but that cannot be synced (and so get no ReadWritePaths entry) are said.
  const skipped: string[] = [];
  const write =
    systemd.scope === "user"
      ? [{ path: path.join(systemd.unitDir, `${SERVICE_NAME}.service`), content: await renderUnit("user", values) }]
      : [
          { path: path.join(systemd.unitDir, `${SERVICE_NAME}@.service`), content: await renderUnit("system", values) },
          {
            path: path.join(systemd.unitDir, `${unitName(systemd)}.d`, "paths.conf"),
            content: renderPathsDropIn(await readWritePaths(config, systemd.user, skipped)),
          },
        ];
  return {
    write,
    remove: [],
    steps: [
      {
        argv: systemctl(systemd, "daemon-reload"),
        hint: systemd.scope === "user" ? BUS_HINT : "is systemd running as PID 1 here?",
      },
      {
        argv: systemctl(systemd, "enable", "--now", unitName(systemd)),
        hint: `see \`${systemd.scope === "user" ? "journalctl --user" : "journalctl"} -u ${unitName(systemd)}\``,
      },
    ],
    notes: [...skipped.map((warning) => `warning: ${warning}`), ...claudeNotes(config, host, systemd.user)],
    undo: {
      fresh: [{ argv: systemctl(systemd, "disable", unitName(systemd)) }],
      after: [{ argv: systemctl(systemd, "daemon-reload") }],
    },
  };
}

export function systemdUninstallPlan(systemd: SystemdScope): ServicePlan {
  const files =
    systemd.scope === "user"
      ? [path.join(systemd.unitDir, `${SERVICE_NAME}.service`)]
      : [path.join(systemd.unitDir, `${unitName(systemd)}.d`)];
  return {
    write: [],
    remove: files,
    steps: [
      { argv: systemctl(systemd, "disable", "--now", unitName(systemd)), mayFail: true },
      { argv: systemctl(systemd, "daemon-reload") },
    ],
    notes:
      systemd.scope === "system"
        ? [`the template ${path.join(systemd.unitDir, `${SERVICE_NAME}@.service`)} stays for other users' instances`]
        : [],
  };
}

/** A user unit outlives the login session only with lingering on; without it the daemon stops at logout. */
export async function lingerNote(run: Runner, user: ServiceUser): Promise<string | undefined> {
  const r = await run(["loginctl", "show-user", user.name, "--property=Linger", "--value"]);
  if (r.exitCode === 0 && r.stdout.trim() === "yes") return undefined;
  const off =
    `note: lingering is off for ${user.name}, ` + "so the user unit stops when you log out and does not start at boot";
  return `${off}; run \`sudo loginctl enable-linger ${user.name}\``;
}

export interface ServiceState {
  installed: boolean;
  active: boolean;
  /** One line for people. */
  summary: string;
  pid?: number;
  lastExit?: string;
  /** Set when the service manager could not be asked: then nothing is known, not "not installed". */
  unknown?: string;
}

export async function systemdStatus(run: Runner, systemd: SystemdScope): Promise<ServiceState> {
  const r = await run(
    systemctl(
      systemd,
      "show",
      unitName(systemd),
      "--property=LoadState,ActiveState,SubState,MainPID,ExecMainStatus,ExecMainExitTimestamp,UnitFileState",
    ),
  );
  if (r.exitCode !== 0) {
    const reason = (r.stderr || r.stdout).trim().split("\n")[0] || `exit ${r.exitCode}`;
    return { installed: false, active: false, summary: `cannot ask systemd: ${reason}`, unknown: reason };
  }
  const props = Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  const installed = props.LoadState === "loaded";
  const active = props.ActiveState === "active";
  const pid = Number(props.MainPID) || undefined;
  const lastExit = props.ExecMainExitTimestamp
    ? `status ${props.ExecMainStatus ?? "?"} at ${props.ExecMainExitTimestamp}`
    : undefined;
  const state = `${props.UnitFileState ?? ""} ${props.ActiveState} (${props.SubState})`;
  const running = `${pid ? `, pid ${pid}` : ""}${lastExit ? `, last exit ${lastExit}` : ""}`;
  const summary = installed
    ? `${unitName(systemd)} ${state}${running}`.replace(/\s+/g, " ")
    : `${unitName(systemd)} not installed (${props.LoadState ?? "unknown"})`;
  return { installed, active, summary, ...(pid ? { pid } : {}), ...(lastExit ? { lastExit } : {}) };
}
