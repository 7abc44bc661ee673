/**
 * Injects a write failure at the fs layer, then runs one sync: `node disk-fault.js <agentDir> <ENOSPC|EACCES>`.
 * ENOSPC fails the temp file's write; EACCES fails its creation. Prints the agent's report as JSON.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";

const [agentDir, code] = process.argv.slice(2) as [string, "ENOSPC" | "EACCES"];
const fail = (syscall: string) => Object.assign(new Error(`${code}: injected, ${syscall}`), { code, syscall });
// Only the temp file next to the store is affected: the store itself, and the lock, work as usual.
const TEMP = /auth-profiles\.json\.[0-9a-f]{16}\.tmp$/;
// The writer opens its temp file on the thread pool and fills it at once (fs/atomic-write.ts).
const tempFds = new Set<number>();
const realOpen = fs.open;
(fs as any).open = (file: fs.PathLike, ...rest: unknown[]) => {
  if (!TEMP.test(String(file))) return (realOpen as any)(file, ...rest);
  const done = rest.pop() as (err: unknown, fd?: number) => void;
  if (code === "EACCES") return process.nextTick(done, fail("open"));
  (realOpen as any)(file, ...rest, (err: unknown, fd: number) => {
    if (!err) tempFds.add(fd);
    done(err, fd);
  });
};
const realWriteFileSync = fs.writeFileSync;
(fs as any).writeFileSync = (file: unknown, ...rest: unknown[]) => {
  if (typeof file === "number" && tempFds.has(file)) throw fail("write");
  return (realWriteFileSync as any)(file, ...rest);
};
// Imported once the fs layer is patched: the writer takes its promisified open when it loads.
const { jsonV1Adapter } = await import("../../src/stores/json-v1/adapter.js");
const { syncAgents } = await import("../../src/pass/apply.js");
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
