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
import { agentDb, layoutFor } from "./layout.js";
import type { DatabaseKind } from "./schema.js";
import { databaseLock, type HeldDatabase } from "./database-lock.js";
import { sqliteUsageRules } from "../../reconcile/cooldown-sqlite.js";
import { type AgentCells, agentView, cellWrites, type Owner } from "./view.js";
import { workerFor } from "./worker-client.js";

/** Where one agent's two stores are, as found on disk now. */
export interface Placement {
  shared: { file: string; home: CellHome; kind: DatabaseKind } | undefined;
  local: string | undefined;
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
  /** Set while `openclaw doctor --fix` relocates the shared store: why nothing may be written. */
  relocating?: string;
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
      const local = placement.local
        ? { file: placement.local, home: "agent-db" as const, kind: "agent" as const }
        : undefined;
      const [target, other] = owner === "local" ? [local!, placement.shared] : [placement.shared, local];
      if (!target)
        throw new StoreError(
          `the shared auth store does not exist yet in ${stateDir} ${SHARED_STORE_MISSING}`,
          "invalid",
        );
      assertTrusted(target.file);
      const otherCells = other && { file: other.file, home: other.home };
      return {
        name: target.file,
        lock: databaseLock(target, options.lockTimeoutMs, worker, otherCells),
        read: ({ read }) => {
          if ("relocating" in read) return Promise.reject(new StoreError(read.relocating, "locked"));
          const theirs = read.other ?? {};
          const cells: AgentCells =
            owner === "local"
              ? { shared: theirs, local: read.cells }
              : { shared: read.cells, ...(local && { local: theirs }) };
          return Promise.resolve({ placement, cells });
        },
        plan: (held, { cells }, view, next) => {
          const mine = cellWrites(cells, view, next)[owner];
          if (!mine) return undefined;
          const before = owner === "local" ? cells.local! : cells.shared;
          const roles = (["store", "state"] as const).filter((role) => mine[role] && mine[role] !== before[role]);
          return {
            files: [],
            commit: async () => {
              const lost = await held.commit(roles.map((role) => ({ role, value: mine[role]! })));
              if (lost) throw new StoreError(`${target.file}: ${lost}; nothing written`, "locked");
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
      parts(peeked) {
        const { placement, cells, relocating } = peeked!.docs;
        // Told by the peek's read; a write to the state database checks again inside its lock.
        if (relocating) return Promise.reject(new StoreError(relocating, "locked"));
        const planned = cellWrites(cells, peeked!.view, peeked!.next);
        const owners = (["local", "shared"] as const).filter((owner) => planned[owner]);
        return Promise.resolve(owners.map((owner) => part(placement, owner)));
      },
    };
  };

  return {
    format: "sqlite",
    usage: sqliteUsageRules,
    refreshFences: true,
    admit: admitProfile,
    files: (agentDir) => [agentDb(agentDir), layout.stateDb],
    // One request: a session of its own, unless the caller holds one.
    async read(agentDir) {
      const { placement, cells } = await readAgent(agentDir);
      if (!placement.shared && !placement.local) return undefined;
      return agentView(cells);
    },
    update: (agentDir, change, options) =>
      worker.session(() => runTransaction(store(agentDir, options), change, options)),
    session: (work) => worker.session(work),
    // The gateway keeps these stores in memory: told as its own CLI tells it, from the config as it is now.
    reload: async (requests) => reloadGateway((await readGatewayConfig(stateDir, env))?.value, stateDir, requests, env),
  };
}
