/**
 * The `sqlite` store adapter (OpenClaw 2026.6 to 2026.9.6): the glue between the StoreAdapter interface and
 * the pieces of this folder. Each update peeks without locks, and only when the pure change would write does
 * it take each touched database's transaction, re-read inside it, re-apply the change and write that
 * database's cells; the agent's own database first, then the shared store, never both at once.
 */
import { assertTrusted } from "../../fs/trust.js";
import { StoreError } from "../../core/errors.js";
import type { StoreAdapter, UpdateOptions } from "../adapter.js";
import { readGatewayConfig } from "../agents.js";
import { reloadGateway } from "./gateway-notify.js";
import { runTransaction, type StorePart, type TransactionalStore } from "../transaction.js";
import { CELLS, type CellHome, MARKER_CELL, readCell, writeCell } from "./cells.js";
import { type Database, isDatabaseFile, readDatabase } from "./driver.js";
import { agentDb, layoutFor, type Layout, sharedLocation } from "./layout.js";
import { relocationInProgress } from "./relocation.js";
import { assertServable, assertSqliteFile, type DatabaseKind } from "./schema.js";
import { databaseLock, type HeldDatabase } from "./database-lock.js";
import { sqliteUsageRules } from "../../reconcile/cooldown-sqlite.js";
import { type AgentCells, agentView, cellWrites, type Owner, type StoreCells } from "./view.js";

/** Where one agent's two stores are, as found on disk now. */
interface Placement {
  shared: { file: string; home: CellHome; kind: DatabaseKind } | undefined;
  local: string | undefined;
}

const readCells = (db: Database, home: CellHome): StoreCells => {
  const store = readCell(db, CELLS[home].store);
  const state = readCell(db, CELLS[home].state);
  return { ...(store ? { store } : {}), ...(state ? { state } : {}) };
};

/**
 * Undefined when `file` does not exist; when it does, it must be a database we may serve (schema.ts), or this
 * throws its one-line refusal, and `read` reads on the same connection.
 */
async function readChecked<T>(
  file: string,
  kind: DatabaseKind,
  read: (db: Database) => T,
): Promise<{ value: T } | undefined> {
  if (!(await isDatabaseFile(file))) return undefined;
  await assertSqliteFile(file);
  const value = readDatabase(file, (db) => {
    assertServable(db, kind);
    return read(db);
  });
  return { value };
}

const checkedExists = async (file: string, kind: DatabaseKind) =>
  (await readChecked(file, kind, () => undefined)) !== undefined;

async function place(layout: Layout, agentDir: string): Promise<Placement> {
  const own = agentDb(agentDir);
  let shared: Placement["shared"];
  const marker = (db: Database) => sharedLocation(readCell(db, MARKER_CELL), layout.stateDb);
  if ((await readChecked(layout.stateDb, "state", marker))?.value === "state-db") {
    shared = { file: layout.stateDb, home: "state-db", kind: "state" };
  }
  if (!shared && (await checkedExists(layout.mainDb, "agent"))) {
    shared = { file: layout.mainDb, home: "agent-db", kind: "agent" };
  }
  const local = own !== shared?.file && own !== layout.mainDb && (await checkedExists(own, "agent")) ? own : undefined;
  return { shared, local };
}

function readAgentCells(placement: Placement, open: { db: Database; file: string } | undefined): AgentCells {
  const cellsOf = (file: string, home: CellHome) =>
    open?.file === file ? readCells(open.db, home) : readDatabase(file, (db) => readCells(db, home));
  const shared = placement.shared ? cellsOf(placement.shared.file, placement.shared.home) : {};
  return placement.local ? { shared, local: cellsOf(placement.local, "agent-db") } : { shared };
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

  /** One agent's store: each database a change touches is one part, the agent's own first, never both at once. */
  const store = (agentDir: string, options: UpdateOptions): TransactionalStore<AgentDocs, HeldDatabase> => {
    const read = async () => {
      const placement = await place(layout, agentDir);
      return { placement, cells: readAgentCells(placement, undefined) };
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
        lock: databaseLock(target, options.lockTimeoutMs),
        // eslint-disable-next-line @typescript-eslint/require-await -- a SQLite read is synchronous
        read: async ({ db }) => {
          const relocating = target.home === "state-db" ? relocationInProgress(db, target.file) : undefined;
          if (relocating) throw new StoreError(relocating, "locked");
          return { placement, cells: readAgentCells(placement, { db, file: target.file }) };
        },
        plan: ({ db }, { cells }, view, next) => {
          const mine = cellWrites(cells, view, next)[owner];
          if (!mine) return undefined;
          const before = owner === "local" ? cells.local! : cells.shared;
          const roles = (["store", "state"] as const).filter((role) => mine[role] && mine[role] !== before[role]);
          return {
            files: [],
            // eslint-disable-next-line @typescript-eslint/require-await -- cells and COMMIT are synchronous
            commit: async () => {
              const now = Date.now();
              for (const role of roles) writeCell(db, CELLS[target.home][role], mine[role]!, now);
              db.exec("COMMIT");
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
        const stateDbExists = placement.shared !== undefined && (await isDatabaseFile(layout.stateDb));
        const pending = stateDbExists
          ? readDatabase(layout.stateDb, (db) => relocationInProgress(db, layout.stateDb))
          : undefined;
        if (pending) throw new StoreError(pending, "locked");
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
      const placement = await place(layout, agentDir);
      if (!placement.shared && !placement.local) return undefined;
      return agentView(readAgentCells(placement, undefined));
    },
    update: (agentDir, change, options) => runTransaction(store(agentDir, options), change, options),
    // The gateway keeps these stores in memory: told as its own CLI tells it, from the config as it is now.
    reload: async (requests) => reloadGateway((await readGatewayConfig(stateDir, env))?.value, stateDir, requests, env),
  };
}
