/**
 * The command line. This file alone decides exit codes: commands throw domain errors, and each becomes
 * one line on stderr plus its code (78 for config errors, so service managers stop restarting).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { AuthSyncError, ConfigError, ExitError, messageOf } from "../core/errors.js";
import { PACKAGE_ROOT } from "../core/install.js";
import { LOG_LEVELS } from "../log/format.js";

/**
 * A command's options, with the global ones (`--config`, `--state-dir`, ...) when `command` is given. Commander
 * types them loosely; each command's options interface names what it declared.
 */
function optionsOf<T>(options: object, command?: Command): T {
  return { ...(command?.optsWithGlobals() ?? {}), ...options } as T;
}

/** The installed package's version. */
function packageVersion(): string {
  const text = readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8");
  const { version } = JSON.parse(text) as { version?: unknown };
  return typeof version === "string" ? version : "unknown";
}
import { printLines } from "./print.js";

export async function main(argv: string[]): Promise<void> {
  const program = new Command("moltbot-auth-sync")
    .description("Keep Moltbot agents' Anthropic auth profiles in step with the Claude Code CLI login.")
    .option("--config <file>", "config file (default: $XDG_CONFIG_HOME/moltbot-auth-sync/config.json)")
    .option("--state-dir <dir>", "gateway state dir, which must exist (default: as the gateway resolves it)")
    .version(packageVersion(), "-V, --version", "print the version")
    // Subcommands inherit this: each one's --help lists --config and --state-dir too.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError()
    .exitOverride();

  program
    .command("sync")
    .description("copy the Claude login into every agent once; when it is due, first ask claude to refresh it")
    .option("--dry-run", "show what would change and what would run, without writing or running anything")
    .option("--no-refresh", "only copy: never run claude, even when the login is due or expired")
    .option("--json", "print the result as JSON")
    .action(async (options: object, command: Command) =>
      (await import("./sync.js")).syncCommand(optionsOf(options, command)),
    );

  program
    .command("status")
    .description("show the source, every agent's copy and any cooldowns; exit 0 ok, 1 unusable, 2 expiring")
    .option("--json", "print the result as JSON")
    .action(async (options: object, command: Command) =>
      (await import("./status.js")).statusCommand(optionsOf(options, command)),
    );

  program
    .command("cooldown")
    .description("inspect or clear cooldowns by hand")
    .command("clear")
    .description("clear a profile's cooldown in one agent or all; a disabled login needs --force")
    .option("--profile <id>", "profile id (default: config profileId)")
    .option("--agent <id>", "only this agent")
    .option("--all", "every agent (the default)")
    .option("--force", "also clear a disabled login")
    .option("--json", "print the result as JSON")
    .action(async (options: object, command: Command) =>
      (await import("./cooldown.js")).cooldownClearCommand(optionsOf(options, command)),
    );

  program
    .command("recover")
    .description("switch profiles whose refresh failed to the Claude login's access token, kept fresh from then on")
    .option("--agent <id>", "only this agent")
    .option("--profile <id>", "only this profile")
    .option("--dry-run", "show what would change, without writing anything")
    .option("--json", "print the result as JSON")
    .action(async (options: object, command: Command) =>
      (await import("./recover.js")).recoverCommand(optionsOf(options, command)),
    );

  program
    .command("remove")
    .description("take the profiles moltbot-auth-sync wrote out of every agent (before an uninstall)")
    .option("--profile <id>", "only this profile (default: the logins' and every setup-token's it stored)")
    .option("--dry-run", "show what would be removed, without writing anything")
    .option("--json", "print the result as JSON")
    .action(async (options: object, command: Command) =>
      (await import("./remove.js")).removeCommand(optionsOf(options, command)),
    );

  const token = program
    .command("token")
    .description("keep setup-tokens (from `claude setup-token`) and sync them into every agent");
  token
    .command("set")
    .description("store a setup-token read from stdin (never from the command line)")
    .option("--profile <id>", "profile id to sync it as (default: config setupTokenProfileId, anthropic:manual)")
    .option("--expires-in <duration>", "when it expires, from now: 365d, 12h, 1d12h (default: 365d)")
    .option("--replace", "replace a token under this id that moltbot-auth-sync did not put there (the gateway's)")
    .action(async (options: object, command: Command) =>
      (await import("./token.js")).tokenSetCommand(optionsOf(options, command)),
    );
  token
    .command("clear")
    .description("remove a stored setup-token")
    .option("--profile <id>", "profile id (default: config setupTokenProfileId)")
    .action(async (options: object, command: Command) =>
      (await import("./token.js")).tokenClearCommand(optionsOf(options, command)),
    );
  token
    .command("status")
    .description("show stored setup-tokens: fingerprint, age and where they are kept")
    .option("--json", "print the result as JSON")
    .action(async (options: object, command: Command) =>
      (await import("./token.js")).tokenStatusCommand(optionsOf(options, command)),
    );

  const service = program.command("service").description("install, remove or inspect the systemd or launchd service");
  const serviceOptions = (command: Command) =>
    command
      .option("--user", "a per-user service (the default)")
      .option("--system <user>", "a hardened systemd system unit running as <user> (run as root)")
      .option("--manager <name>", "systemd or launchd (default: launchd on macOS, systemd elsewhere)")
      .option(
        "--unit-dir <dir>",
        "where systemd unit files go (default: ~/.config/systemd/user, or /etc/systemd/system with --system)",
      );
  serviceOptions(
    service.command("install").description("render the unit with this host's paths, install, enable and start it"),
  )
    .option("--dry-run", "print every file and command without doing anything")
    .action(async (options: object, command: Command) =>
      (await import("./service.js")).serviceInstallCommand(optionsOf(options, command)),
    );
  serviceOptions(service.command("uninstall").description("stop, disable and remove the service"))
    .option("--dry-run", "print every file and command without doing anything")
    .action(async (options: object, command: Command) =>
      (await import("./service.js")).serviceUninstallCommand(optionsOf(options, command)),
    );
  serviceOptions(
    service.command("status").description("whether the service is loaded and active, its pid and last exit"),
  )
    .option("--json", "print the result as JSON")
    .action(async (options: object, command: Command) =>
      (await import("./service.js")).serviceStatusCommand(optionsOf(options, command)),
    );

  program
    .command("logs")
    .description("the daemon's log, filtered, one readable line per event")
    .option("--since <when>", 'a duration back from now (1h, 30m) or a date ("2026-11-25 03:00")')
    .option("--level <level>", `this level and above: ${LOG_LEVELS.join(", ")}`)
    .option("--event <event>", "one event, or a group (refresh matches refresh.started, refresh.failed, …)")
    .option("--agent <id>", "only lines about this agent")
    .option("--follow", "keep printing new lines")
    .option("--json", "print the matching JSON lines as they are")
    .option("--file <path>", "read this log file (default: journald on Linux, the launchd log on macOS)")
    .option("--system <user>", "the system unit's journal for <user> (default: the user unit's)")
    .action(async (options: object, command: Command) =>
      (await import("./logs.js")).logsCommand(optionsOf(options, command)),
    );

  program
    .command("doctor")
    .description("check everything this host needs, each problem with the command that fixes it; exit 1 on any fail")
    .option("--json", "print the checks as JSON")
    .option("--system <user>", "check the system unit for <user> instead of the user unit")
    .action(async (options: object, command: Command) =>
      (await import("./doctor.js")).doctorCommand(optionsOf(options, command)),
    );

  program
    .command("run")
    .description("run the daemon in the foreground: watch, refresh through claude ahead of expiry, re-sync")
    .option("--log-level <level>", "trace, debug, info, warn, error or silent (default: config logLevel)")
    .option("--pretty", "readable log lines for a terminal instead of JSON")
    .action(async (options: object, command: Command) =>
      (await import("./run.js")).runCommand(optionsOf(options, command)),
    );

  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof ExitError) {
    if (err.message) printError(err);
    return err.exitCode;
  }
  if (err instanceof AuthSyncError) {
    printError(err);
    return err.exitCode;
  }
  printLines([`moltbot-auth-sync: internal error: ${messageOf(err)}`], process.stderr);
  return 70;
}

/**
 * An error is one line (a value inside it cannot start another), or for a config one line per problem, then its
 * hint, if it has one.
 */
function printError(err: AuthSyncError): void {
  const lines = err instanceof ConfigError ? err.lines : [err.message];
  const hint = err.hint ? [`hint: ${err.hint}`] : [];
  printLines([...lines.map((line) => `moltbot-auth-sync: ${line}`), ...hint], process.stderr);
}
