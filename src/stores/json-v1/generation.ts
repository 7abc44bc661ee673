/**
 * The `json-v1` generation: one `auth-profiles.json` per agent, locked with a lock folder beside it (noted in our
 * lock journal, so a lock our killed run left is removed at the next start).
 */
import type { StoreGeneration } from "../adapter.js";
import { AUTH_PROFILES_FILENAME } from "../discovery/agents.js";
import { jsonStoreChecks } from "../json/doctor.js";
import { removeStaleTempFiles } from "../json/file.js";
import { recoverLocks } from "../locks/journal.js";
import { staleLockChecks } from "../locks/stale-locks.js";
import { jsonV1Adapter } from "./adapter.js";

export const jsonV1: StoreGeneration = {
  format: "json-v1",
  adapter: () => jsonV1Adapter,
  watched: { agentFiles: [AUTH_PROFILES_FILENAME], sharedFiles: [], logs: [] },
  doctor: jsonStoreChecks,
  leftovers: { locks: recoverLocks, tempFiles: removeStaleTempFiles, staleLocks: staleLockChecks },
};
