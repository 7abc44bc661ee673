/**
 * Which generation of the gateway's store a state dir holds (docs/compatibility.md):
 *   json-v1  auth-profiles.json with usageStats inline (Clawdbot, Moltbot, OpenClaw 2026.1–2026.3)
 *   split    auth-profiles.json + auth-state.json for order/lastGood/usageStats (OpenClaw ~2026.4–2026.5)
 *   sqlite   openclaw-agent.sqlite; the runtime reads no JSON store (OpenClaw ~2026.6 and later)
 * Decided from files on disk first, then from the version the gateway recorded in its config.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Agent, GatewayConfig } from "./agents.js";

export type StoreFormat = "json-v1" | "split" | "sqlite";

export interface Generation {
  format: StoreFormat;
  /** `meta.lastTouchedVersion` from the gateway config, when recorded. */
  version?: string;
  reason: string;
}

export const SQLITE_AGENT_DB = "openclaw-agent.sqlite";
export const AUTH_STATE_FILENAME = "auth-state.json";

/** "2026.4.22" → [2026, 4, 22]; undefined for anything else. */
export function parseVersion(version: string): [number, number, number] | undefined {
  const m = /^(\d{4})\.(\d{1,2})\.(\d{1,3})/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function formatForVersion(version: string): StoreFormat | undefined {
  const v = parseVersion(version);
  if (!v) return undefined;
  const [year, month] = v;
  if (year > 2026 || (year === 2026 && month >= 6)) return "sqlite";
  if (year === 2026 && month >= 4) return "split";
  return "json-v1";
}

export function recordedVersion(config: GatewayConfig | undefined): string | undefined {
  const meta = config?.value?.meta as { lastTouchedVersion?: unknown } | undefined;
  return typeof meta?.lastTouchedVersion === "string" ? meta.lastTouchedVersion : undefined;
}

export function detectGeneration(
  stateDir: string,
  agents: readonly Agent[],
  config: GatewayConfig | undefined,
): Generation {
  const version = recordedVersion(config);
  const withVersion = (g: Omit<Generation, "version">): Generation => (version ? { ...g, version } : g);
  const db =
    agents.map((a) => path.join(a.dir, SQLITE_AGENT_DB)).find((file) => existsSync(file)) ??
    [path.join(stateDir, "state", "openclaw.sqlite")].find((file) => existsSync(file));
  if (db) return withVersion({ format: "sqlite", reason: `${db} exists` });
  const byVersion = version ? formatForVersion(version) : undefined;
  if (byVersion === "sqlite")
    return withVersion({ format: "sqlite", reason: `the gateway config records version ${version}` });
  const split = agents.map((a) => path.join(a.dir, AUTH_STATE_FILENAME)).find((file) => existsSync(file));
  if (split) return withVersion({ format: "split", reason: `${split} exists` });
  if (byVersion) return withVersion({ format: byVersion, reason: `the gateway config records version ${version}` });
  return withVersion({ format: "json-v1", reason: "no auth-state.json or SQLite store, and no recorded version" });
}
