/**
 * What `doctor` says about a SQLite-era state dir: which databases exist, the schema version each declares,
 * and whether we support it. Reads file headers only; opens nothing.
 */
import type { Agent } from "../agents.js";
import { isDatabaseFile } from "./driver.js";
import { agentDb, layoutFor } from "./layout.js";
import { type DatabaseKind, readUserVersion, schemaRefusal } from "./schema.js";

export interface DatabaseFinding {
  /** "state", or the agent's id. */
  name: string;
  kind: DatabaseKind;
  file: string;
  version?: number;
  /** Why we refuse it, when we do. */
  refusal?: string;
}

export async function inspectDatabases(
  stateDir: string,
  agents: readonly Agent[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<DatabaseFinding[]> {
  const layout = layoutFor(stateDir, env);
  const candidates: Array<Omit<DatabaseFinding, "version" | "refusal">> = [
    { name: "state", kind: "state", file: layout.stateDb },
    ...agents.map((a) => ({ name: a.id, kind: "agent" as const, file: agentDb(a.dir) })),
  ];
  const findings: DatabaseFinding[] = [];
  for (const candidate of candidates) {
    let present: boolean;
    try {
      present = await isDatabaseFile(candidate.file);
    } catch (err) {
      findings.push({ ...candidate, refusal: err instanceof Error ? err.message : String(err) });
      continue;
    }
    if (!present) continue;
    const version = await readUserVersion(candidate.file).catch(() => undefined);
    const refusal = schemaRefusal(candidate.kind, candidate.file, version);
    findings.push({ ...candidate, ...(version !== undefined ? { version } : {}), ...(refusal ? { refusal } : {}) });
  }
  return findings;
}
