/**
 * A SQLite-era state dir made by the real gateway's own commands: main with `anthropic:manual` in the shared
 * store, and agent `work` with its own database and its own `anthropic:manual`.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomToken, type TestHome } from "../test/helpers/env.js";
import { agentDbPath } from "../test/helpers/sqlite-store.js";
import { type Gateway, runGateway } from "./gateway.js";

export const pasteToken = (gateway: Gateway, t: TestHome, agent: string, profileId: string, token = randomToken()) => {
  const args = ["models", "auth", "paste-token", "--provider", "anthropic", "--agent", agent, "--profile-id"];
  return runGateway(gateway, [...args, profileId], t.stateDir, t.home, gateway.entry, `${token}\n`);
};

/** `tokens` are main's and work's pasted tokens; random unless given (two state dirs alike). */
export async function gatewayStateDir(
  gateway: Gateway,
  t: TestHome,
  tokens: { shared: string; work: string } = { shared: randomToken(), work: randomToken() },
): Promise<void> {
  t.planted.push(tokens.shared, tokens.work);
  const paste = ["models", "auth", "paste-token", "--provider", "anthropic"];
  await runGateway(gateway, paste, t.stateDir, t.home, gateway.entry, `${tokens.shared}\n`);
  const add = ["agents", "add", "work", "--non-interactive", "--workspace", path.join(t.root, "ws-work")];
  await runGateway(gateway, add, t.stateDir, t.home);
  await pasteToken(gateway, t, "work", "anthropic:manual", tokens.work);
  assert.ok(existsSync(agentDbPath(t, "work")), "paste-token --agent work made work's database");
}

/**
 * Registers `ids` in the gateway config's `auth.profiles` as `sync` tells the admin to: its own `paste-token`
 * registers the pasted profile there, and from then on the gateway tries only the profiles listed.
 */
export function registerProfiles(t: TestHome, ids: readonly string[]): void {
  const file = path.join(t.stateDir, "openclaw.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as { auth?: { profiles?: Record<string, unknown> } };
  config.auth ??= {};
  config.auth.profiles ??= {};
  for (const id of ids) config.auth.profiles[id] = { provider: "anthropic", mode: "token" };
  writeFileSync(file, JSON.stringify(config, null, 2));
}
