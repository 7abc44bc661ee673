/**
 * The `sqlite` store adapter (OpenClaw 2026.6 to 2026.9.6): the glue between the StoreAdapter interface and
 * the pieces of this folder. Each update peeks without locks, and only when the pure change would write does
 * it take each touched database's transaction, re-read inside it, re-apply the change and write that
 * database's cells; the agent's own database first, then the shared store, never both at once.
 */
import { existsSync } from "node:fs";
import { StoreError, errnoCode } from "../../core/errors.js";
import type { AuthProfileStore } from "../../types.js";
import type { StoreAdapter, StoreChange, UpdateOptions, UpdateResult } from "../adapter.js";
import { CELLS, type CellHome, MARKER_CELL, readCell, writeCell } from "./cells.js";
import { type Database, isDatabaseFile, openDatabase } from "./driver.js";
import { agentDb, layoutFor, type Layout, sharedLocation } from "./layout.js";
import { relocationInProgress } from "./relocation.js";
import { assertSupportedSchema, type DatabaseKind, readUserVersion } from "./schema.js";
import { writeTransaction } from "./transaction.js";
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

/** Opens for reading without leaving anything behind: read-only when the gateway's WAL files exist, else read-write. */
function withReader<T>(file: string, read: (db: Database) => T): T {
  const db = openDatabase(file, { readonly: existsSync(`${file}-wal`) || existsSync(`${file}-shm`) });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

async function checkedExists(file: string, kind: DatabaseKind): Promise<boolean> {
  if (!(await isDatabaseFile(file))) return false;
  assertSupportedSchema(
    kind,
    file,
    await readUserVersion(file).catch((err) => {
      throw new StoreError(`${file} cannot be read: ${errnoCode(err) ?? String(err)}`, "invalid");
    }),
  );
  return true;
}

async function place(layout: Layout, agentDir: string): Promise<Placement> {
  const own = agentDb(agentDir);
  let shared: Placement["shared"];
  if (await checkedExists(layout.stateDb, "state")) {
    const location = withReader(layout.stateDb, (db) => sharedLocation(readCell(db, MARKER_CELL), layout.stateDb));
    if (location === "state-db") shared = { file: layout.stateDb, home: "state-db", kind: "state" };
  }
  if (!shared && (await checkedExists(layout.mainDb, "agent"))) {
    shared = { file: layout.mainDb, home: "agent-db", kind: "agent" };
  }
  const local = own !== shared?.file && own !== layout.mainDb && (await checkedExists(own, "agent")) ? own : undefined;
  return { shared, local };
}

function readAgentCells(placement: Placement, open: { db: Database; file: string } | undefined): AgentCells {
  const cellsOf = (file: string, home: CellHome) =>
    open?.file === file ? readCells(open.db, home) : withReader(file, (db) => readCells(db, home));
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

export function sqliteAdapter(stateDir: string, env: NodeJS.ProcessEnv = process.env): StoreAdapter {
  const layout = layoutFor(stateDir, env);
  return {
    format: "sqlite",
    usage: sqliteUsageRules,
    admit: admitProfile,
    files: (agentDir) => [agentDb(agentDir), layout.stateDb],
    async read(agentDir) {
      const placement = await place(layout, agentDir);
      if (!placement.shared && !placement.local) return undefined;
      return agentView(readAgentCells(placement, undefined));
    },
    async update<T>(agentDir: string, change: (store: AuthProfileStore) => StoreChange<T>, options: UpdateOptions) {
      const placement = await place(layout, agentDir);
      const peekCells = readAgentCells(placement, undefined);
      const peekView = agentView(peekCells);
      const peek = change(peekView);
      const result: UpdateResult<T> = { outcome: peek.outcome, writes: [], warnings: [] };
      if (peek.next === peekView || options.dryRun) return result;
      const planned = cellWrites(peekCells, peekView, peek.next);
      const relocating = (db: Database) => relocationInProgress(db, layout.stateDb);
      const stateDbExists = placement.shared !== undefined && (await isDatabaseFile(layout.stateDb));
      const pending = stateDbExists ? withReader(layout.stateDb, relocating) : undefined;
      if (pending) throw new StoreError(pending, "locked");
      let decided = false;
      for (const owner of ["local", "shared"] as const satisfies readonly Owner[]) {
        if (!planned[owner]) continue;
        const local = { file: placement.local!, home: "agent-db" as const, kind: "agent" as const };
        const target = owner === "local" ? local : placement.shared;
        if (!target) {
          throw new StoreError(
            `the shared auth store does not exist yet in ${stateDir} (no state database with auth.sharedStore, ` +
              "no main agent database); nothing written: " +
              "run openclaw models auth paste-token or openclaw doctor --fix once",
            "invalid",
          );
        }
        const outcome = await writeTransaction(target, options.lockTimeoutMs, (db) => {
          const relocating = target.home === "state-db" ? relocationInProgress(db, target.file) : undefined;
          if (relocating) throw new StoreError(relocating, "locked");
          const cells = readAgentCells(placement, { db, file: target.file });
          const view = agentView(cells);
          const { next, outcome } = change(view);
          if (next === view) return { outcome, wrote: false };
          const mine = cellWrites(cells, view, next)[owner];
          const before = owner === "local" ? cells.local! : cells.shared;
          const now = Date.now();
          for (const role of ["store", "state"] as const) {
            if (mine?.[role] && mine[role] !== before[role]) writeCell(db, CELLS[target.home][role], mine[role]!, now);
          }
          return { outcome, wrote: mine !== undefined };
        });
        if (!decided || outcome.wrote) result.outcome = outcome.outcome;
        decided ||= outcome.wrote;
      }
      return result;
    },
  };
}
