/**
 * Runs the daemon's store writer (`syncAgents`, the code every daemon pass runs) over one agent `count`
 * times with alternating credentials whose expiry grows: `node syncer.js <format> <agentDir> <count> <profileId>`.
 * Prints `{"synced", "failed", "lastToken"}`; the tokens themselves never leave this process but in the store.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { adapterFor } from "../../src/stores/adapter-for.js";
import type { StoreFormat } from "../../src/stores/discovery/generation.js";
import { syncAgents } from "../../src/pass/apply.js";

const [format, agentDir, count, profileId] = process.argv.slice(2) as [StoreFormat, string, string, string];
// The agent dir is <state>/agents/main/agent.
const stateDir = path.dirname(path.dirname(path.dirname(agentDir)));
const adapter = adapterFor({ format, reason: "the fault suite" }, stateDir);
const target = { agents: [{ id: "main", dir: agentDir, stateDir, from: "disk" as const }], adapter };
const base = Date.now() + 3_600_000;
let synced = 0;
let failed = 0;
let lastToken = "";
const reasons = new Set<string>();
for (let i = 0; i < Number(count); i++) {
  const token = `sk-ant-oat01-${i % 2 === 0 ? "A" : "B"}${randomBytes(60).toString("base64url")}`;
  const [report] = await syncAgents(
    target,
    profileId,
    { type: "token", provider: "anthropic", token, expires: base + i },
    { lockTimeoutMs: 60_000 },
  );
  if (report!.result === "written") {
    synced++;
    lastToken = token;
  } else {
    failed++;
    reasons.add(`${report!.result}: ${report!.reason ?? ""}`.slice(0, 200));
  }
}
process.stdout.write(JSON.stringify({ synced, failed, lastToken, reasons: [...reasons] }));
