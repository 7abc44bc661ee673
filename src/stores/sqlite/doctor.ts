/**
 * `doctor`'s checks of a SQLite-era gateway: the engine, the lock folder every SQLite write needs, the gateway version
 * and every database's schema. A database newer than the newest we were tested with is information, not a
 * problem, when its auth tables are as expected; one whose shape differs fails.
 */
import { type Check, fail, ok, warn } from "../check.js";
import type { GatewayInstall } from "../discovery/gateway.js";
import { findingsText, inspectDatabases } from "./inspect.js";
import type { NoEngine } from "./driver.js";
import { lockFolderProblem } from "./lock-folder.js";
import { workerFor } from "./worker-client.js";

export async function sqliteChecks(gateway: GatewayInstall): Promise<Check[]> {
  const locks = await lockFolderProblem();
  const lockCheck = locks ? [fail("gateway locks", locks.detail, locks.fix)] : [];
  const engine = await engineCheck(gateway.stateDir.dir);
  // Without an engine no database can be read: their checks would only repeat the engine's line.
  if (engine.status === "fail") return [engine, ...lockCheck];
  return [engine, ...lockCheck, ...(await databaseChecks(gateway))];
}

/** The engine the SQLite child runs (driver.ts), asked of the child itself: it runs the same Node as we do. */
async function engineCheck(stateDir: string): Promise<Check> {
  type Answer = { detail: string } | NoEngine;
  const answer = await workerFor(stateDir).call<Answer>("engine", {}, stateDir, "loading the SQLite engine");
  return "detail" in answer ? ok("sqlite engine", answer.detail) : fail("sqlite engine", answer.problem, answer.fix);
}

async function databaseChecks(gateway: GatewayInstall): Promise<Check[]> {
  const generation = gateway.generation;
  const found = await inspectDatabases(gateway.stateDir.dir, gateway.agents);
  const version = `gateway ${generation.version ?? "unknown"} (${generation.reason})`;
  const detail = `sqlite, ${version}; ${findingsText(found) || "no database yet"}`;
  if (found.some((f) => f.refusal)) {
    const fix =
      "openclaw doctor --fix   (the gateway repairs its own schema; a refused database is left as it is), " +
      "or a moltbot-auth-sync release that knows this schema";
    return [fail("gateway store", detail, fix)];
  }
  if (found.length === 0) {
    const fix = "openclaw models auth paste-token   (the gateway creates its databases on its first write)";
    return [warn("gateway store", detail, fix)];
  }
  return [ok("gateway store", detail)];
}
