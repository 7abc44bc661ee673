/**
 * Store adapter for OpenClaw ~2026.4–2026.5, verified against openclaw@2026.4.22:
 * - credentials stay in `auth-profiles.json` (`profiles`);
 * - `order`, `lastGood` and `usageStats` live in `auth-state.json` (`{version: 1, …}`);
 * - the gateway reads both and merges them key by key, `auth-state.json` winning for the same profile;
 * - it locks with a sidecar file `auth-profiles.json.lock` and rewrites both files in place.
 * We write each change to the file it is read from, and keep everything else in both files as it is.
 */
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { AuthProfileStore } from "../../types.js";
import { AUTH_PROFILES_FILENAME } from "../discovery/agents.js";
import type { FileWrite, StoreAdapter } from "../adapter.js";
import { sidecarLock } from "../locks/sidecar-lock.js";
import { AUTH_STATE_FILENAME } from "../discovery/generation.js";
import { EMPTY_STORE, type JsonDoc, asProfileStore, readJsonDoc, serializeJson } from "../json/file.js";
import { type JsonFormat, updateJsonStore } from "../json/store.js";
import { jsonUsageRules } from "../../reconcile/cooldown-json.js";

const STATE_KEYS = ["order", "lastGood", "usageStats"] as const;

interface SplitDocs {
  profiles: AuthProfileStore | undefined;
  state: JsonDoc | undefined;
}

async function readDocs(agentDir: string, attempts?: number): Promise<SplitDocs> {
  const file = path.join(agentDir, AUTH_PROFILES_FILENAME);
  const doc = await readJsonDoc(file, attempts);
  return {
    profiles: doc && asProfileStore(doc, file),
    state: await readJsonDoc(path.join(agentDir, AUTH_STATE_FILENAME), attempts),
  };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The gateway's view: inline state, overridden key by key by `auth-state.json`. */
export function mergedView({ profiles, state }: SplitDocs): AuthProfileStore | undefined {
  if (!profiles && !state) return undefined;
  const view: AuthProfileStore = { ...(profiles ?? EMPTY_STORE) };
  for (const key of STATE_KEYS) {
    const inline = asRecord(view[key]);
    const stored = asRecord(state?.[key]);
    if (inline || stored) view[key] = { ...inline, ...stored } as never;
  }
  return view;
}

/** What `auth-state.json` must hold after `next`: its own content, plus every state entry that changed. */
function nextState(state: JsonDoc | undefined, before: AuthProfileStore, next: AuthProfileStore): JsonDoc | undefined {
  let result = state;
  for (const key of STATE_KEYS) {
    const was = asRecord(before[key]) ?? {};
    const now = asRecord(next[key]) ?? {};
    for (const id of new Set([...Object.keys(was), ...Object.keys(now)])) {
      if (isDeepStrictEqual(was[id], now[id])) continue;
      result ??= { version: 1 };
      const section = { ...asRecord(result[key]) };
      if (now[id] === undefined) delete section[id];
      else section[id] = now[id];
      result = { ...result, [key]: section };
    }
  }
  return result;
}

const format: JsonFormat<SplitDocs> = {
  files: (agentDir) => [path.join(agentDir, AUTH_PROFILES_FILENAME), path.join(agentDir, AUTH_STATE_FILENAME)],
  read: readDocs,
  view: mergedView,
  writes(agentDir, docs, view, next) {
    const writes: FileWrite[] = [];
    if (!isDeepStrictEqual(next.profiles, view.profiles)) {
      const content = serializeJson({ ...(docs.profiles ?? EMPTY_STORE), profiles: next.profiles });
      writes.push({ file: path.join(agentDir, AUTH_PROFILES_FILENAME), content });
    }
    const state = nextState(docs.state, view, next);
    if (state !== docs.state)
      writes.push({ file: path.join(agentDir, AUTH_STATE_FILENAME), content: serializeJson(state!) });
    return writes;
  },
  lock: sidecarLock,
};

export const splitAdapter: StoreAdapter = {
  format: "split",
  usage: jsonUsageRules,
  files: (agentDir) => format.files(agentDir),
  read: async (agentDir) => mergedView(await readDocs(agentDir)),
  update: (agentDir, change, options) => updateJsonStore(format, agentDir, change, options),
};
