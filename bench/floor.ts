/**
 * The physical floor beside which `npm run bench` measures the daemon: the least any correct design must do per
 * credential change, and nothing more. One watch event, a read, then per agent a temp file created exclusively,
 * written, fsynced, renamed over the store, and the folder fsynced. No lock, no merge, no checks: a design that
 * does less would lose data on a crash. It logs `sync.written` lines of the daemon's shape, so the bench times
 * both with the same harness.
 *   node floor.js <credentials file> <agents folder>    (every <agents folder>/<id>/agent/)
 */
import { randomBytes } from "node:crypto";
import { constants, readdirSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import path from "node:path";
import { fingerprint } from "../src/core/fingerprint.js";
import { emit, watchLogin } from "./floor-watch.js";

const [credentials, agentsRoot] = process.argv.slice(2);
if (!credentials || !agentsRoot) throw new Error("usage: floor.js <credentials file> <agents folder>");
const agentDirs = readdirSync(agentsRoot).map((id) => path.join(agentsRoot, id, "agent"));

async function replace(dir: string, content: string): Promise<void> {
  const temp = path.join(dir, `auth-profiles.json.${randomBytes(8).toString("hex")}.tmp`);
  const flags = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW;
  const file = await open(temp, flags, 0o600);
  await file.writeFile(content);
  await file.sync();
  await file.close();
  await rename(temp, path.join(dir, "auth-profiles.json"));
  const folder = await open(dir, "r");
  await folder.sync();
  await folder.close();
}

watchLogin(credentials, async ({ token, expires }) => {
  const profile = { type: "token", provider: "anthropic", token, expires };
  const content = `${JSON.stringify({ version: 1, profiles: { "anthropic:claude-cli": profile } }, null, 2)}\n`;
  for (const dir of agentDirs) {
    await replace(dir, content);
    emit({ event: "sync.written", agent: path.basename(path.dirname(dir)), fingerprint: fingerprint(token) });
  }
});
