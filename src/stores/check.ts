/**
 * One line of `doctor`: ok, warn or fail, and every warn or fail carries the exact command that fixes it on this
 * host. Each store generation makes the checks of its own stores (StoreGeneration.doctor), so the shape sits here,
 * beneath report/.
 */
export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** The command (or edit) that fixes a warn or fail; every path in it is shell-quoted. */
  fix?: string;
}

export const ok = (name: string, detail: string): Check => ({ name, status: "ok", detail });
export const warn = (name: string, detail: string, fix: string): Check => ({ name, status: "warn", detail, fix });
export const fail = (name: string, detail: string, fix: string): Check => ({ name, status: "fail", detail, fix });
