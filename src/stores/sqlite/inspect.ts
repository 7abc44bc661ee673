/**
 * What `doctor` and `status` say of a SQLite-era state dir: which databases exist, the schema version of each
 * (the state database's as the gateway reads it), and whether we serve it by its shape (schema.ts). Opens each
 * database for reading only, as the adapter does; nothing is written.
 */
import { StoreError, messageOf } from "../../core/errors.js";
import type { Agent } from "../discovery/agents.js";
import { databaseFile } from "./database-file.js";
import { agentDb, layoutFor } from "./layout.js";
import { type DatabaseKind, type SchemaReading, schemaNote, schemaRefusal, TESTED_SCHEMA } from "./schema.js";
import { workerFor } from "./worker-client.js";

export interface DatabaseFinding {
  /** "state", or the agent's id. */
  name: string;
  kind: DatabaseKind;
  file: string;
  /** The schema version, as the gateway reads it; undefined when it cannot be read. */
  version?: number;
  userVersion?: number;
  /** State databases: the `state.schema.contentVersion` row, when there is one. */
  contentVersion?: number;
  /** Whether it is newer than the newest we were tested with: served, and said so as information. */
  newer?: boolean;
  /** What `status` and `doctor` say of a database we serve. */
  note?: string;
  /** Why we refuse it, when we do. */
  refusal?: string;
}

export async function inspectDatabases(
  stateDir: string,
  agents: readonly Agent[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<DatabaseFinding[]> {
  const layout = layoutFor(stateDir, env);
  const candidates: Array<Pick<DatabaseFinding, "name" | "kind" | "file">> = [
    { name: "state", kind: "state", file: layout.stateDb },
    ...agents.map((a) => ({ name: a.id, kind: "agent" as const, file: agentDb(a.dir) })),
  ];
  const findings: DatabaseFinding[] = [];
  for (const candidate of candidates) {
    try {
      const { file, kind } = candidate;
      const expect = databaseFile(file);
      if (!expect) continue;
      const reading = await workerFor(stateDir).call<SchemaReading>(
        "inspect",
        { file, expect, kind },
        file,
        "reading its schema",
      );
      const refusal = schemaRefusal(candidate.kind, candidate.file, reading);
      const { version, userVersion, contentVersion } = reading;
      findings.push({
        ...candidate,
        version,
        userVersion,
        ...(contentVersion !== undefined ? { contentVersion } : {}),
        ...(version > TESTED_SCHEMA[candidate.kind] ? { newer: true } : {}),
        ...(refusal ? { refusal } : { note: schemaNote(candidate.kind, reading) }),
      });
    } catch (err) {
      const why = err instanceof StoreError ? messageOf(err) : `${candidate.file} cannot be read: ${messageOf(err)}`;
      findings.push({ ...candidate, refusal: why });
    }
  }
  return findings;
}

/**
 * The findings in one line: databases that read alike share one phrase, "main, work: agent schema 24 (tested up
 * to 23, OpenClaw 2026.9.6): auth tables as expected"; a refused one is named with its one-line refusal.
 */
export function findingsText(findings: readonly DatabaseFinding[]): string {
  const groups = new Map<string, string[]>();
  for (const f of findings) {
    const text = f.refusal ?? f.note!;
    groups.set(text, [...(groups.get(text) ?? []), f.name]);
  }
  return [...groups].map(([text, names]) => `${names.join(", ")}: ${text}`).join("; ");
}
