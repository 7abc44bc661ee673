/**
 * Which SQLite schema versions we know how to write (openclaw@2026.9.6 `package.json` →
 * `openclaw.schemaVersions`), and the check that refuses any other `user_version` before anything is opened
 * for writing. The version is read from the file header (bytes 60–63), so a refused database is never opened
 * and keeps every byte and every sidecar file as it was.
 */
import { open } from "node:fs/promises";
import { StoreError } from "../../core/errors.js";

export type DatabaseKind = "state" | "agent";

/** The gateway's schema versions this adapter was verified against. */
export const SUPPORTED_SCHEMA: Readonly<Record<DatabaseKind, number>> = { state: 18, agent: 23 };

/** The release those versions come from, for messages. */
export const VERIFIED_GATEWAY = "2026.9.6";

const MAGIC = "SQLite format 3\0";
const HEADER_BYTES = 100;

/** `user_version` from a database file header; undefined when the file is not an SQLite database. */
export function userVersionFromHeader(header: Uint8Array): number | undefined {
  if (header.length < HEADER_BYTES) return undefined;
  if (Buffer.from(header.subarray(0, 16)).toString("latin1") !== MAGIC) return undefined;
  return Buffer.from(header).readUInt32BE(60);
}

export async function readUserVersion(file: string): Promise<number | undefined> {
  const handle = await open(file, "r");
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
    return userVersionFromHeader(header.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** The one-line refusal for a version we do not know; undefined when `found` is the supported one. */
export function schemaRefusal(kind: DatabaseKind, file: string, found: number | undefined): string | undefined {
  const supported = SUPPORTED_SCHEMA[kind];
  if (found === supported) return undefined;
  const what = found === undefined ? "is not an SQLite database" : `has schema version ${found}`;
  const ours = `this version supports ${kind} schema ${supported} (OpenClaw ${VERIFIED_GATEWAY})`;
  return `${file} ${what}; ${ours}; nothing written`;
}

export function assertSupportedSchema(kind: DatabaseKind, file: string, found: number | undefined): void {
  const refusal = schemaRefusal(kind, file, found);
  if (refusal) throw new StoreError(refusal, "unsupported");
}
