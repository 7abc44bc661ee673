/**
 * Whether the gateway ever tries a profile we write. Its `resolveAuthProfileOrder` starts from the agent store's
 * `order.anthropic`, else the config's `auth.order.anthropic`, else, when the config lists any Anthropic profile
 * under `auth.profiles`, only those ids. A profile left out of that list is written for nothing: `sync` and
 * `status` say so with the edit that fixes it, as `doctor` does. Pure: the caller reads the config and the store.
 */
import { shellQuote } from "../core/terminal-text.js";
import { ANTHROPIC } from "./profile.js";

/** The gateway config's `auth` section, and the file it came from (for the fix). */
export interface GatewayAuth {
  file: string;
  auth: unknown;
}

/** Why the gateway never tries `profileId`, and the edit that fixes it. */
export interface NeverTried {
  profileId: string;
  detail: string;
  fix: string;
}

type Auth = { order?: Record<string, unknown>; profiles?: Record<string, { provider?: unknown } | null> };

/**
 * The config's own exclusion of `profileId`, agents without an `order` of their own. `mode` is the one the fix
 * registers it with: `oauth` for a login's profile (the gateway also accepts a `token` under it), `token` else.
 */
export function configNeverTries(
  profileId: string,
  mode: "oauth" | "token",
  config: GatewayAuth | undefined,
): NeverTried | undefined {
  const auth = (config?.auth ?? {}) as Auth;
  const file = config ? shellQuote(config.file) : "the gateway config";
  const order = auth.order?.[ANTHROPIC];
  if (Array.isArray(order)) {
    if (order.includes(profileId)) return undefined;
    return {
      profileId,
      detail: `auth.order.anthropic in ${file} is ${JSON.stringify(order)}, without ${profileId}`,
      fix: `add "${profileId}" to auth.order.anthropic in ${file}`,
    };
  }
  const configured = Object.entries(auth.profiles ?? {})
    .filter(([, p]) => p?.provider === ANTHROPIC)
    .map(([id]) => id);
  if (configured.length === 0 || configured.includes(profileId)) return undefined;
  return {
    profileId,
    detail: `auth.profiles in ${file} lists only ${configured.join(", ")} for anthropic`,
    fix: `add "${profileId}": {"provider": "anthropic", "mode": "${mode}"} to auth.profiles in ${file}`,
  };
}

/** An agent store's own `order.anthropic` leaving `profileId` out; undefined when it has none, or lists it. */
export function storeNeverTries(profileId: string, order: unknown, file: string): NeverTried | undefined {
  if (!Array.isArray(order) || order.includes(profileId)) return undefined;
  return {
    profileId,
    detail: `order.anthropic in ${shellQuote(file)} is ${JSON.stringify(order)}, without ${profileId}`,
    fix: `add "${profileId}" to order.anthropic in ${shellQuote(file)} (or remove that order to use the config's)`,
  };
}

/** For one agent: its store's order decides when it has one, else the config's. */
export function neverTried(
  profileId: string,
  mode: "oauth" | "token",
  config: GatewayAuth | undefined,
  store: { order?: Record<string, unknown> } | undefined,
  storeFile: string,
): NeverTried | undefined {
  const order = store?.order?.[ANTHROPIC];
  return Array.isArray(order)
    ? storeNeverTries(profileId, order, storeFile)
    : configNeverTries(profileId, mode, config);
}

/** One line per profile and cause, naming its agents: "the gateway never tries <id> in main, work: …". */
export function neverTriedLines(found: ReadonlyArray<{ agent: string; neverTried: NeverTried }>): string[] {
  const groups = new Map<string, { agents: string[]; neverTried: NeverTried }>();
  for (const { agent, neverTried } of found) {
    const key = `${neverTried.profileId}\n${neverTried.detail}`;
    const group = groups.get(key) ?? { agents: [], neverTried };
    group.agents.push(agent);
    groups.set(key, group);
  }
  return [...groups.values()].map(
    ({ agents, neverTried: n }) =>
      `the gateway never tries ${n.profileId} in ${agents.join(", ")}: ${n.detail}. Fix: ${n.fix}`,
  );
}
