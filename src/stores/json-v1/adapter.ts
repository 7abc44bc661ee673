/**
 * Store adapter for `auth-profiles.json` with runtime state inline (Clawdbot, Moltbot, OpenClaw 2026.1–2026.3).
 * Locked with proper-lockfile and the gateway's options; unknown keys survive because we edit the parsed
 * document itself.
 */
import path from "node:path";
import { AUTH_PROFILES_FILENAME } from "../discovery/agents.js";
import type { StoreAdapter } from "../adapter.js";
import { asProfileStore, readJsonDoc, serializeJson } from "../json/file.js";
import { type JsonFormat, updateJsonStore } from "../json/store.js";
import { directoryLock } from "../locks/directory-lock.js";
import type { AuthProfileStore } from "../../types.js";
import { jsonUsageRules } from "../../reconcile/cooldown-json.js";

const storePath = (agentDir: string) => path.join(agentDir, AUTH_PROFILES_FILENAME);

const format: JsonFormat<AuthProfileStore | undefined> = {
  files: (agentDir) => [storePath(agentDir)],
  async read(agentDir, attempts) {
    const file = storePath(agentDir);
    const doc = await readJsonDoc(file, attempts);
    return doc && asProfileStore(doc, file);
  },
  view: (doc) => doc,
  writes: (agentDir, _doc, _view, next) => [{ file: storePath(agentDir), content: serializeJson(next) }],
  lock: directoryLock,
  createsUnlocked: (doc) => doc === undefined,
};

export const jsonV1Adapter: StoreAdapter = {
  format: "json-v1",
  usage: jsonUsageRules,
  files: (agentDir) => format.files(agentDir),
  read: (agentDir) => format.read(agentDir),
  update: (agentDir, change, options) => updateJsonStore(format, agentDir, change, options),
};
