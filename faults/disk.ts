/**
 * Scenario 5, disk and permissions: a write that fails with ENOSPC or EACCES (injected at the fs layer in a
 * worker) leaves the store intact and no temp file behind; a store readable by others is set to 0600.
 */
import { readdirSync, readFileSync, statSync, chmodSync } from "node:fs";
import { makeHome, randomToken, runCli } from "../test/helpers/env.js";
import { type Outcome, type Row, must, row, runWorker } from "./harness.js";

const NAME = "5 disk and permissions";

export async function diskFaults(): Promise<Outcome> {
  const rows: Row[] = [];
  const outputs: string[] = [];
  const planted: string[] = [];
  for (const code of ["ENOSPC", "EACCES"] as const) {
    const t = makeHome();
    try {
      const token = randomToken();
      planted.push(token);
      t.writeStore("main", {
        version: 1,
        profiles: { "anthropic:manual": { type: "token", provider: "anthropic", token } },
      });
      const before = readFileSync(t.storePath("main"), "utf8");
      const report = await runWorker<{ result: string; code?: string; reason?: string }>("disk-fault.js", [
        t.agentDir("main"),
        code,
      ]).done;
      outputs.push(report.reason ?? "");
      const intact = readFileSync(t.storePath("main"), "utf8") === before;
      const temps = readdirSync(t.agentDir("main")).filter((f) => f !== "auth-profiles.json");
      rows.push(
        row(
          NAME,
          `${code} on write`,
          `${report.result} (${report.code}), store ${intact ? "intact" : "CHANGED"}, ${temps.length} temp files`,
          "failed, intact, 0 temp files",
          report.result === "failed" && intact && temps.length === 0,
        ),
      );
    } finally {
      t.cleanup();
    }
  }
  const t = makeHome();
  try {
    t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    chmodSync(t.storePath("main"), 0o644);
    const r = await runCli(["sync"], t.env);
    outputs.push(r.stdout, r.stderr);
    planted.push(...t.planted);
    rows.push(
      must(
        NAME,
        "group/world-readable store: mode after sync",
        (statSync(t.storePath("main")).mode & 0o777).toString(8),
        "600",
      ),
    );
    rows.push(must(NAME, "…with a warning", String(/was mode 0644; set to 0600/.test(r.stderr)), "true"));
  } finally {
    t.cleanup();
  }
  return { rows, outputs, planted };
}
