/**
 * The `split` generation: `auth-profiles.json` and `auth-state.json` per agent, locked with a sidecar file whose
 * holder's pid tells a dead one (so our journal has nothing to note).
 */
import type { StoreGeneration } from "../adapter.js";
import { AUTH_PROFILES_FILENAME } from "../discovery/agents.js";
import { AUTH_STATE_FILENAME } from "../discovery/generation.js";
import { jsonStoreChecks } from "../json/doctor.js";
import { removeStaleTempFiles } from "../json/file.js";
import { staleLockChecks } from "../locks/stale-locks.js";
import { splitAdapter } from "./adapter.js";

export const split: StoreGeneration = {
  format: "split",
  adapter: () => splitAdapter,
  watched: { agentFiles: [AUTH_PROFILES_FILENAME, AUTH_STATE_FILENAME], sharedFiles: [], logs: [] },
  doctor: jsonStoreChecks,
  leftovers: { tempFiles: removeStaleTempFiles, staleLocks: staleLockChecks },
};
