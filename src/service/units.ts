/**
 * Renders the unit files kept in the repo (`systemd/`, `launchd/`) with this host's absolute paths.
 * Values are escaped for their format: systemd specifiers and quotes, XML for the plist.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readRegularFile } from "../fs/read-file.js";

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export const SERVICE_NAME = "moltbot-auth-sync";
export const LAUNCHD_LABEL = "bot.molt.auth-sync";

export const TEMPLATES = {
  user: path.join(PACKAGE_ROOT, "systemd", `${SERVICE_NAME}.service`),
  system: path.join(PACKAGE_ROOT, "systemd", `${SERVICE_NAME}@.service`),
  launchd: path.join(PACKAGE_ROOT, "launchd", `${LAUNCHD_LABEL}.plist`),
} as const;

export type UnitKind = keyof typeof TEMPLATES;

export interface UnitValues {
  node: string;
  entry: string;
  path: string;
  home: string;
  logDir: string;
}

/** Inside a double-quoted systemd value: `%` starts a specifier, `$` a variable, `"` and `\` end or escape. */
export function systemdQuoted(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$");
}

export function xmlEscaped(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export async function renderUnit(kind: UnitKind, values: UnitValues): Promise<string> {
  const template = await readRegularFile(TEMPLATES[kind]);
  const escape = kind === "launchd" ? xmlEscaped : systemdQuoted;
  return template.replace(/\{\{(\w+)\}\}/g, (match, key: string) => {
    const value = values[key as keyof UnitValues];
    if (value === undefined) throw new Error(`${TEMPLATES[kind]}: no value for ${match}`);
    return escape(value);
  });
}

/** The system unit's per-user drop-in: exactly the folders that instance writes. */
export function renderPathsDropIn(readWritePaths: readonly string[]): string {
  const paths = readWritePaths.map((p) => `"-${systemdQuoted(p)}"`).join(" ");
  return `# Written by moltbot-auth-sync service install: the folders this instance writes.\n[Service]\nReadWritePaths=${paths}\n`;
}
