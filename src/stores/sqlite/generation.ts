/**
 * The `sqlite` generation: each agent's own database, and the shared store every agent reads (the state
 * database), written under the gateway's lifecycle lock in its folder under /tmp. A crash leaves nothing of ours:
 * SQLite's locks die with the process, and a transaction never committed is rolled back.
 */
import path from "node:path";
import type { StoreGeneration } from "../adapter.js";
import { SQLITE_AGENT_DB } from "../discovery/generation.js";
import { sqliteAdapter } from "./adapter.js";
import { sqliteChecks } from "./doctor.js";
import { STATE_DB } from "./layout.js";
import { LOCK_RUNTIME_DIR } from "./lifecycle-lock.js";

/**
 * The write-ahead log of a database: the gateway's writes land there first. It counts only while it holds
 * frames: any reader (ours too) that opens the database when nobody holds it makes an empty one and removes it;
 * readers never write to it; a writer that closes leaves a change of the database itself (the checkpoint).
 */
const WAL_SUFFIX = "-wal";
const SHARED_DB = STATE_DB.split(path.sep).join("/");

export const sqlite: StoreGeneration = {
  format: "sqlite",
  adapter: sqliteAdapter,
  watched: {
    agentFiles: [SQLITE_AGENT_DB, SQLITE_AGENT_DB + WAL_SUFFIX],
    sharedFiles: [SHARED_DB, SHARED_DB + WAL_SUFFIX],
    logs: [SQLITE_AGENT_DB + WAL_SUFFIX, SHARED_DB + WAL_SUFFIX],
  },
  serviceWrites: {
    // The shared database (and its -wal/-shm files) lives in <state>/state, beside the agents.
    inStateDir: (stateDir) => [path.join(stateDir, path.dirname(STATE_DB))],
    // The gateway's lock folder (lifecycle-lock.ts) is made under the host's /tmp on first use.
    onHost: [LOCK_RUNTIME_DIR],
  },
  doctor: sqliteChecks,
  leftovers: {},
};
