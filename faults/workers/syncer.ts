/**
 * Runs the daemon's store writer (`syncAgents`, the code every daemon pass runs) over one agent `count`
 * times with alternating credentials whose expiry grows: `node syncer.js <agentDir> <count>`.
 * Prints `{"synced", "failed", "lastToken"}`; the tokens themselves never leave this process but in the store.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { jsonV1Adapter } from "../../src/stores/json-v1.js";
import { syncAgents } from "../../src/pass/apply.js";

const [agentDir, count] = process.argv.slice(2) as [string, string];
// The agent dir is <state>/agents/main/agent.
const stateDir = path.dirname(path.dirname(path.dirname(agentDir)));
const target = { agents: [{ id: "main", dir: agentDir, stateDir }], adapter: jsonV1Adapter };
const base = Date.now() + 3_600_000;
let synced = 0;
let failed = 0;
let lastToken = "";
for (let i = 0; i < Number(count); i++) {
  const token = `sk-ant-oat01-${i % 2 === 0 ? "A" : "B"}${randomBytes(60).toString("base64url")}`;
  const [report] = await syncAgents(
    target,
    "anthropic:claude-cli",
    { type: "token", provider: "anthropic", token, expires: base + i },
    { lockTimeoutMs: 60_000 },
  );
  if (report!.result === "written") {
    synced++;
    lastToken = token;
  } else failed++;
}
process.stdout.write(JSON.stringify({ synced, failed, lastToken }));
