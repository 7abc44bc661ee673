/**
 * The `sqlite` store adapter (OpenClaw 2026.6 to 2026.9.6): the glue between the StoreAdapter interface and
 * the pieces of this folder. Each update peeks without locks, and only when the pure change would write does
 * it take each touched database's transaction, re-read inside it, re-apply the change and write that
 * database's cells; the agent's own database first, then the shared store, never both at once.
 */
import { assertTrusted } from "../../fs/trust.js";
import { StoreError } from "../../core/errors.js";
import type { StoreAdapter, UpdateOptions } from "../adapter.js";
import { readGatewayConfig } from "../discovery/agents.js";
import { reloadGateway } from "./gateway-notify.js";
import { runTransaction, type StorePart, type TransactionalStore } from "../transaction.js";
import type { CellHome } from "./cells.js";
import { databaseFile } from "./database-file.js";
import { agentDb, layoutFor } from "./layout.js";
import type { DatabaseKind } from "./schema.js";
import { databaseLock, type HeldDatabase } from "./database-lock.js";
import { sqliteUsageRules } from "../../reconcile/cooldown-sqlite.js";
import { type AgentCells, agentView, cellWrites, type Owner, type StoreCells } from "./view.js";
import { type SqliteWorker, workerFor } from "./worker-client.js";

/** Where one agent's two stores are, as found on disk now. */
export interface Placement {
  shared: { file: string; home: CellHome; kind: DatabaseKind } | undefined;
  local: string | undefined;
}

/**
 * Asks the SQLite child to run `op` on `file`, after the file passed the first look (database-file.ts);
 * undefined when there is no file.
 */
async function ask<T>(
  worker: SqliteWorker,
  op: string,
  file: string,
  args: object,
  doing: string,
): Promise<{ value: T } | undefined> {
  const expect = databaseFile(file);
  if (!expect) return undefined;
  return { value: await worker.call<T>(op, { ...args, file, expect }, file, doing) };
}

async function readAgentCells(
  worker: SqliteWorker,
  placement: Placement,
  open: { file: string; cells: StoreCells } | undefined,
): Promise<AgentCells> {
  const cellsOf = async (file: string, home: CellHome) => {
    if (open?.file === file) return open.cells;
    const read = await ask<StoreCells>(worker, "cells", file, { home }, "reading auth cells");
    if (!read) throw new StoreError(`${file} cannot be opened: it is gone`, "invalid");
    return read.value;
  };
  const shared = placement.shared ? await cellsOf(placement.shared.file, placement.shared.home) : {};
  return placement.local ? { shared, local: await cellsOf(placement.local, "agent-db") } : { shared };
}

/** The Claude login's default id: retired in this generation, so the default is to copy nothing. */
const RETIRED_CLI_ID = "anthropic:claude-cli";

/** Which offers this generation takes: setup-tokens, and the login only as an opt-in `token` profile. */
export function admitProfile(profileId: string, profile: Record<string, unknown>): string | undefined {
  if (profileId === RETIRED_CLI_ID) {
    return (
      `not copied: this gateway uses the Claude CLI login natively and has retired ${RETIRED_CLI_ID}; ` +
      `set profileId (with credentialType "token") to copy its access token as a token profile`
    );
  }
  if (profile.type !== "token" || "refresh" in profile) {
    return (
      "not copied: this gateway refreshes stored oauth profiles itself and would spend claude's refresh token; " +
      'use credentialType "token"'
    );
  }
  return undefined;
}

const SHARED_STORE_MISSING =
  "(no state database with auth.sharedStore, no main agent database); nothing written: " +
  "run openclaw models auth paste-token or openclaw doctor --fix once";

/** The docs of one agent: where its stores are, and their cells. */
interface AgentDocs {
  placement: Placement;
  cells: AgentCells;
}

export function sqliteAdapter(stateDir: string, env: NodeJS.ProcessEnv = process.env): StoreAdapter {
  const layout = layoutFor(stateDir, env);
  const worker = workerFor(stateDir);
  // Placement and cells in one round trip to the SQLite child: a pass reads every agent several times.
  const readAgent = (agentDir: string) =>
    worker.call<AgentDocs>(
      "agent",
      { stateDb: layout.stateDb, mainDb: layout.mainDb, own: agentDb(agentDir) },
      agentDb(agentDir),
      "reading the agent's auth stores",
    );

  /** One agent's store: each database a change touches is one part, the agent's own first, never both at once. */
  const store = (agentDir: string, options: UpdateOptions): TransactionalStore<AgentDocs, HeldDatabase> => {
    const read = async () => {
      return readAgent(agentDir);
    };
    const part = (placement: Placement, owner: Owner): StorePart<AgentDocs, HeldDatabase> => {
      const local = { file: placement.local!, home: "agent-db" as const, kind: "agent" as const };
      const target = owner === "local" ? local : placement.shared;
      if (!target)
        throw new StoreError(
          `the shared auth store does not exist yet in ${stateDir} ${SHARED_STORE_MISSING}`,
          "invalid",
        );
      assertTrusted(target.file);
      return {
        name: target.file,
        lock: databaseLock(target, options.lockTimeoutMs, worker),
        read: async ({ handle }) => {
          const { file, home } = target;
          const read = await worker.call<{ relocating: string } | { cells: StoreCells }>(
            "txCells",
            { handle, home, file },
            file,
            "reading auth cells",
          );
          if ("relocating" in read) throw new StoreError(read.relocating, "locked");
          return { placement, cells: await readAgentCells(worker, placement, { file, cells: read.cells }) };
        },
        plan: ({ handle }, { cells }, view, next) => {
          const mine = cellWrites(cells, view, next)[owner];
          if (!mine) return undefined;
          const before = owner === "local" ? cells.local! : cells.shared;
          const roles = (["store", "state"] as const).filter((role) => mine[role] && mine[role] !== before[role]);
          return {
            files: [],
            commit: async () => {
              const writes = roles.map((role) => ({ role, value: mine[role]! }));
              const args = { handle, home: target.home, writes, now: Date.now() };
              await worker.call("commit", args, target.file, "writing auth cells and COMMIT");
            },
          };
        },
      };
    };
    return {
      agentDir,
      peek: async () => ({ docs: await read() }),
      read,
      view: ({ cells }) => agentView(cells),
      async parts(peeked) {
        const { placement, cells } = peeked!.docs;
        const planned = cellWrites(cells, peeked!.view, peeked!.next);
        const pending = placement.shared
          ? await ask<string | null>(worker, "relocation", layout.stateDb, {}, "checking for a relocation")
          : undefined;
        if (pending?.value) throw new StoreError(pending.value, "locked");
        return (["local", "shared"] as const).filter((owner) => planned[owner]).map((owner) => part(placement, owner));
      },
    };
  };

  return {
    format: "sqlite",
    usage: sqliteUsageRules,
    refreshFences: true,
    admit: admitProfile,
    files: (agentDir) => [agentDb(agentDir), layout.stateDb],
    async read(agentDir) {
      const { placement, cells } = await readAgent(agentDir);
      if (!placement.shared && !placement.local) return undefined;
      return agentView(cells);
    },
    update: (agentDir, change, options) => runTransaction(store(agentDir, options), change, options),
    // The gateway keeps these stores in memory: told as its own CLI tells it, from the config as it is now.
    reload: async (requests) => reloadGateway((await readGatewayConfig(stateDir, env))?.value, stateDir, requests, env),
  };
}
