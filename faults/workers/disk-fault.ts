/**
 * Injects a write failure at the fs layer, then runs one sync: `node disk-fault.js <agentDir> <ENOSPC|EACCES>`.
 * ENOSPC fails the temp file's write; EACCES fails its creation. Prints the agent's report as JSON.
 */
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { jsonV1Adapter } from "../../src/stores/json-v1.js";
import { syncAgents } from "../../src/pass/apply.js";

const [agentDir, code] = process.argv.slice(2) as [string, "ENOSPC" | "EACCES"];
const fail = (syscall: string) => Object.assign(new Error(`${code}: injected, ${syscall}`), { code, syscall });
// Only the temp file next to the store is affected: the store itself, and the lock, work as usual.
const TEMP = /auth-profiles\.json\.[0-9a-f]{16}\.tmp$/;
const realOpen = fs.promises.open;
const probe = await realOpen(process.execPath, "r");
const handleProto = Object.getPrototypeOf(probe) as { writeFile: (...args: unknown[]) => Promise<void> };
await probe.close();
const realWriteFile = handleProto.writeFile;
(fs.promises as any).open = (file: fs.PathLike, ...rest: any[]) => {
  if (code === "EACCES" && TEMP.test(String(file))) return Promise.reject(fail("open"));
  return (realOpen as any)(file, ...rest);
};
handleProto.writeFile = function (this: unknown, ...args: unknown[]) {
  if (code === "ENOSPC") return Promise.reject(fail("write"));
  return realWriteFile.apply(this, args);
};
// Named imports of node:fs/promises see the patched `open` only after this.
syncBuiltinESMExports();
// The agent dir is <state>/agents/main/agent.
const stateDir = path.dirname(path.dirname(path.dirname(agentDir)));
const target = { agents: [{ id: "main", dir: agentDir, stateDir }], adapter: jsonV1Adapter };
const token = `sk-ant-oat01-${randomBytes(60).toString("base64url")}`;
const [report] = await syncAgents(
  target,
  "anthropic:claude-cli",
  { type: "token", provider: "anthropic", token, expires: Date.now() + 3_600_000 },
  { lockTimeoutMs: 1_000 },
);
process.stdout.write(JSON.stringify({ result: report!.result, code: report!.code, reason: report!.reason }));
