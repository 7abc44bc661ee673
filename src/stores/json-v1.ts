/**
 * Store adapter for `auth-profiles.json` with runtime state inline (Clawdbot, Moltbot, OpenClaw 2026.1–2026.3).
 * Locked with proper-lockfile and the gateway's options; unknown keys survive because we edit the parsed
 * document itself.
 */
import path from "node:path";
import { StoreError, messageOf } from "../core/errors.js";
import { AUTH_PROFILES_FILENAME } from "./agents.js";
import type { StoreAdapter, UpdateResult } from "./adapter.js";
import { writeFileAtomically } from "../fs/atomic-write.js";
import { EMPTY_STORE, asProfileStore, ensureStoreFile, readJsonDoc, serializeJson, tightenMode } from "./json-file.js";
import { withStoreLock } from "./locks/directory-lock.js";
import { jsonUsageRules } from "../reconcile/cooldown-json.js";

const storePath = (agentDir: string) => path.join(agentDir, AUTH_PROFILES_FILENAME);

async function read(agentDir: string, attempts?: number) {
  const file = storePath(agentDir);
  const doc = await readJsonDoc(file, attempts);
  return doc && asProfileStore(doc, file);
}

export const jsonV1Adapter: StoreAdapter = {
  format: "json-v1",
  usage: jsonUsageRules,
  files: (agentDir) => [storePath(agentDir)],
  read: (agentDir) => read(agentDir),
  async update(agentDir, change, options) {
    const file = storePath(agentDir);
    // Most passes change nothing: decide on an unlocked read first and take the lock only to write.
    // The decision is made again on the re-read inside the lock, so a concurrent writer is never lost.
    // A missing store is the empty one: it is created only when the change writes something.
    const peek = await read(agentDir, 1).then(
      (store) => store ?? EMPTY_STORE,
      () => undefined,
    );
    const peeked = peek && change(peek);
    if (peeked && peeked.next === peek) {
      const warnings = options.dryRun ? [] : await tightenMode(file, options.stateDir);
      return { outcome: peeked.outcome, writes: [], warnings };
    }
    if (options.dryRun) {
      const { outcome } = change((await read(agentDir)) ?? EMPTY_STORE);
      return { outcome, writes: [], warnings: [] };
    }
    await ensureStoreFile(file, options.stateDir);
    return withStoreLock(file, options.lockTimeoutMs, options.lockJournal, async (compromised) => {
      const warnings = await tightenMode(file, options.stateDir);
      const current = (await read(agentDir)) ?? EMPTY_STORE;
      const { next, outcome } = change(current);
      const result: UpdateResult<typeof outcome> = { outcome, writes: [], warnings };
      if (next === current) return result;
      if (compromised.aborted) throw new StoreError(`${file}: lock was taken over as stale; nothing written`, "locked");
      const content = serializeJson(next);
      options.beforeWrite?.({ agentDir, writes: [{ file, content }], store: next });
      try {
        await writeFileAtomically(file, content, { symlinkRoot: options.stateDir });
      } catch (err) {
        throw new StoreError(`${file} cannot be written: ${messageOf(err)}`, "unwritable");
      }
      result.writes.push({ file, content });
      return result;
    });
  },
};
