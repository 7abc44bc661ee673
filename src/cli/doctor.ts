/** `moltbot-auth-sync doctor [--json]`: ok / warn / fail per check, each problem with its fix; exit 1 on any fail. */
import { runDoctor } from "../report/doctor.js";
import { ExitError } from "../core/errors.js";
import { resolveServiceManager, serviceState } from "./service.js";
import { type GlobalOptions, loadCommandConfig, printJson } from "./options.js";
import { printLines } from "./print.js";

export interface DoctorOptions extends GlobalOptions {
  json?: boolean;
  system?: string;
}

const MARK = { ok: "ok  ", warn: "WARN", fail: "FAIL" } as const;

export async function doctorCommand(options: DoctorOptions): Promise<void> {
  const { config, file } = await loadCommandConfig(options);
  const checks = await runDoctor(config, {
    serviceState: () => serviceState(resolveServiceManager(options)),
    ...(file ? { configFile: file } : {}),
  });
  const failed = checks.some((c) => c.status === "fail");
  if (options.json) {
    printJson({ ok: !failed, checks });
  } else {
    printLines(
      checks.flatMap((check) => [
        `${MARK[check.status]}  ${check.name.padEnd(16)} ${check.detail}`,
        ...(check.fix ? [`      ${"".padEnd(16)} fix: ${check.fix}`] : []),
      ]),
    );
  }
  if (failed) throw new ExitError(1);
}
