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
import { StoreError, messageOf } from "../core/errors.js";
import type { AuthProfileStore } from "../types.js";
import { AUTH_PROFILES_FILENAME } from "./agents.js";
import type { StoreAdapter, UpdateResult } from "./adapter.js";
import { writeFileAtomically } from "../fs/atomic-write.js";
import { withSidecarLock } from "./locks/sidecar-lock.js";
import { jsonUsageRules } from "../reconcile/cooldown-json.js";
import { AUTH_STATE_FILENAME } from "./generation.js";
import {
  EMPTY_STORE,
  type JsonDoc,
  asProfileStore,
  ensureStoreFile,
  readJsonDoc,
  serializeJson,
  tightenMode,
} from "./json-file.js";

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

export const splitAdapter: StoreAdapter = {
  format: "split",
  usage: jsonUsageRules,
  files: (agentDir) => [path.join(agentDir, AUTH_PROFILES_FILENAME), path.join(agentDir, AUTH_STATE_FILENAME)],
  read: async (agentDir) => mergedView(await readDocs(agentDir)),
  async update(agentDir, change, options) {
    const profilesFile = path.join(agentDir, AUTH_PROFILES_FILENAME);
    const stateFile = path.join(agentDir, AUTH_STATE_FILENAME);
    // As in json-v1: decide on an unlocked read, where missing files are the empty store.
    const peek = await readDocs(agentDir, 1).then(
      (docs) => mergedView(docs) ?? EMPTY_STORE,
      () => undefined,
    );
    const peeked = peek && change(peek);
    if (peeked && peeked.next === peek) {
      const warnings = options.dryRun ? [] : await tightenMode(profilesFile, options.stateDir);
      return { outcome: peeked.outcome, writes: [], warnings };
    }
    if (options.dryRun)
      return { outcome: change(mergedView(await readDocs(agentDir)) ?? EMPTY_STORE).outcome, writes: [], warnings: [] };
    await ensureStoreFile(profilesFile, options.stateDir);
    return withSidecarLock(profilesFile, options.lockTimeoutMs, async () => {
      const warnings = [];
      for (const file of [profilesFile, stateFile]) warnings.push(...(await tightenMode(file, options.stateDir)));
      const docs = await readDocs(agentDir);
      const view = mergedView(docs) ?? EMPTY_STORE;
      const { next, outcome } = change(view);
      const result: UpdateResult<typeof outcome> = { outcome, writes: [], warnings };
      if (next === view) return result;
      const writes: Array<{ file: string; content: string }> = [];
      if (!isDeepStrictEqual(next.profiles, view.profiles))
        writes.push({
          file: profilesFile,
          content: serializeJson({ ...(docs.profiles ?? EMPTY_STORE), profiles: next.profiles }),
        });
      const state = nextState(docs.state, view, next);
      if (state !== docs.state) writes.push({ file: stateFile, content: serializeJson(state!) });
      options.beforeWrite?.({ agentDir, writes, store: next });
      try {
        const symlinkRoot = options.stateDir;
        for (const write of writes) await writeFileAtomically(write.file, write.content, { symlinkRoot });
      } catch (err) {
        throw new StoreError(`${agentDir} cannot be written: ${messageOf(err)}`, "unwritable");
      }
      result.writes.push(...writes);
      return result;
    });
  },
};
