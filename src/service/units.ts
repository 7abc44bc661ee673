/**
 * Renders the unit files kept in the repo (`systemd/`, `launchd/`) with this host's absolute paths.
 * Every value is checked first (`unitPathProblem`), then escaped for its format: systemd specifiers and
 * variables, XML for the plist.
 */
import path from "node:path";
import { readRegularFile } from "../fs/read-file.js";
import { AuthSyncError } from "../core/errors.js";
import { PACKAGE_ROOT } from "../core/install.js";
import { hasControl } from "../core/terminal-text.js";

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

/** What XML 1.0 has no character for, beyond the controls: in `u` mode a surrogate only matches when unpaired. */
const NOT_XML = /[\uFFFE\uFFFF\uD800-\uDFFF]/u;

/**
 * Why `value` cannot go into a unit file, or undefined when it can: only an absolute, normalised path
 * without control characters (a newline would start a directive of its own); a plist value also without the
 * characters XML 1.0 cannot hold. systemd values also refuse
 * `"` and `\`, whose meaning inside quotes differs between directives (systemd.syntax(7)).
 */
export function unitPathProblem(value: string, format: "systemd" | "launchd"): string | undefined {
  if (hasControl(value)) return "holds a control character";
  if (format === "launchd" && NOT_XML.test(value))
    return "holds U+FFFE, U+FFFF or a lone surrogate, which XML cannot carry";
  if (!path.posix.isAbsolute(value)) return "is not an absolute path";
  const normalised = path.posix.normalize(value) === value && (value === "/" || !value.endsWith("/"));
  if (!normalised) return "is not a normalised path";
  if (format === "systemd" && /["\\]/.test(value)) return 'holds " or \\, which a unit file cannot carry safely';
  return undefined;
}

/** Throws naming the value when it cannot go into a unit file. */
export function checkUnitPath(value: string, format: "systemd" | "launchd", what: string): string {
  const problem = unitPathProblem(value, format);
  if (!problem) return value;
  throw new AuthSyncError(`${what} ${JSON.stringify(value)} ${problem}; nothing was written`, "service.value");
}

/**
 * Inside a double-quoted systemd value `%` starts a specifier; in an Exec line `$` also starts a variable.
 * Elsewhere (Environment=, ReadWritePaths=) `$` is literal and must not be doubled.
 */
export function systemdQuoted(value: string, context: "exec" | "value" = "value"): string {
  const specifiers = value.replace(/%/g, "%%");
  return context === "exec" ? specifiers.replace(/\$/g, "$$$$") : specifiers;
}

export function xmlEscaped(value: string): string {
  const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
  return value.replace(/[&<>"']/g, (c) => entities[c]!);
}

/** PATH is a list: each folder in it is checked as a path of its own. */
function checkValue(key: keyof UnitValues, value: string, format: "systemd" | "launchd"): void {
  for (const part of key === "path" ? value.split(":") : [value]) {
    checkUnitPath(part, format, `service install: ${key}`);
  }
}

export async function renderUnit(kind: UnitKind, values: UnitValues): Promise<string> {
  const template = await readRegularFile(TEMPLATES[kind]);
  const format = kind === "launchd" ? "launchd" : "systemd";
  return template.replace(/\{\{(\w+)\}\}/g, (match, key: string, offset: number) => {
    const value = values[key as keyof UnitValues];
    if (value === undefined) throw new Error(`${TEMPLATES[kind]}: no value for ${match}`);
    checkValue(key as keyof UnitValues, value, format);
    if (format === "launchd") return xmlEscaped(value);
    const line = template.slice(template.lastIndexOf("\n", offset) + 1, offset);
    return systemdQuoted(value, line.startsWith("Exec") ? "exec" : "value");
  });
}

/** The system unit's per-user drop-in: exactly the folders that instance writes. */
export function renderPathsDropIn(readWritePaths: readonly string[]): string {
  const quoted = (p: string) => `"-${systemdQuoted(checkUnitPath(p, "systemd", "ReadWritePaths"))}"`;
  const paths = readWritePaths.map(quoted).join(" ");
  const header = "# Written by moltbot-auth-sync service install: the folders this instance writes.";
  return `${header}\n[Service]\nReadWritePaths=${paths}\n`;
}
