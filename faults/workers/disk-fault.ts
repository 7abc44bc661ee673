/**
 * Injects a write failure at the fs layer, then runs one sync: `node disk-fault.js <agentDir> <ENOSPC|EACCES>`.
 * ENOSPC fails the temp file's write; EACCES fails its creation. Prints the agent's report as JSON.
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { jsonV1Adapter } from "../../src/stores/json-v1.js";
import { syncAgents } from "../../src/sync.js";

const [agentDir, code] = process.argv.slice(2) as [string, "ENOSPC" | "EACCES"];
const fail = (syscall: string) => Object.assign(new Error(`${code}: injected, ${syscall}`), { code, syscall });
const realOpen = fs.open;
const realWrite = fs.write;
// Only the temp file next to the store is affected: the store itself, and the lock, work as usual.
(fs as any).open = (file: fs.PathLike, flags: any, mode: any, cb: any) => {
  const callback = typeof mode === "function" ? mode : cb;
  if (code === "EACCES" && /auth-profiles\.json\.\d+$/.test(String(file))) return process.nextTick(callback, fail("open"));
  return (realOpen as any)(file, flags, mode, cb);
};
(fs as any).write = (fd: number, ...rest: any[]) => {
  const callback = rest[rest.length - 1];
  if (code === "ENOSPC") return process.nextTick(callback, fail("write"));
  return (realWrite as any)(fd, ...rest);
};
const target = { agents: [{ id: "main", dir: agentDir, from: "disk" as const }], adapter: jsonV1Adapter };
const token = `sk-ant-oat01-${randomBytes(60).toString("base64url")}`;
const [report] = await syncAgents(target, "anthropic:claude-cli", { type: "token", provider: "anthropic", token, expires: Date.now() + 3_600_000 }, { lockTimeoutMs: 1_000 });
process.stdout.write(JSON.stringify({ result: report!.result, code: report!.code, reason: report!.reason }));
