/**
 * Where this generation keeps auth for one agent (openclaw@2026.9.6 `resolveSharedAuthStorePath`,
 * `resolveSharedMainAuthAgentDir`, `resolveAuthProfileDatabasePath`): the shared store is the state database
 * once the `auth.sharedStore` marker says `{"location":"state-db"}`, and the main agent's database before that
 * (an install upgraded before `openclaw doctor --fix`); each agent may also have its own database.
 */
import path from "node:path";
import { StoreError } from "../../core/errors.js";
import { defaultAgentDir, DEFAULT_AGENT_ID } from "../discovery/agents.js";
import { SQLITE_AGENT_DB } from "../discovery/generation.js";
import { expandHome } from "../../fs/home.js";

export const STATE_DB = path.join("state", "openclaw.sqlite");

export interface Layout {
  stateDb: string;
  /** The main agent's database, which is the shared store until the marker moves it. */
  mainDb: string;
}

export function layoutFor(stateDir: string, env: NodeJS.ProcessEnv = process.env): Layout {
  const configured = env.OPENCLAW_AGENT_DIR?.trim();
  const mainDir = configured
    ? path.resolve(expandHome(configured, env.HOME ?? ""))
    : defaultAgentDir(stateDir, DEFAULT_AGENT_ID);
  return { stateDb: path.join(stateDir, STATE_DB), mainDb: path.join(mainDir, SQLITE_AGENT_DB) };
}

export function agentDb(agentDir: string): string {
  return path.join(agentDir, SQLITE_AGENT_DB);
}

export type SharedLocation = "state-db" | "legacy-main";

/** `parseSharedAuthStoreOwnership`: absent means legacy-main; any other value is refused, as the gateway does. */
export function sharedLocation(marker: Record<string, unknown> | undefined, file: string): SharedLocation {
  if (marker === undefined) return "legacy-main";
  const keys = Object.keys(marker);
  const known = marker.location === "state-db" || marker.location === "legacy-main";
  if (keys.length === 1 && known) return marker.location as SharedLocation;
  const why = "auth.sharedStore holds an unknown location; nothing written (run openclaw doctor --fix)";
  throw new StoreError(`${file}: ${why}`, "invalid");
}
