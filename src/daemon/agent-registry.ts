/**
 * The agents the daemon syncs, in each gateway (state dir) it serves, and the store adapter for each gateway's
 * generation, as the last full pass found them:
 * new agents are logged as added, vanished ones as removed, and the first find cleans up after a killed run.
 */
import type { Config } from "../config/config.js";
import { messageOf } from "../core/errors.js";
import type { GatewayStores } from "../pass/apply.js";
import { gatewayStores } from "../pass/pass.js";
import { type Agent, isAgentDir } from "../stores/discovery/agents.js";
import { recoverLeftLocks, removeLeftTempFiles } from "../stores/leftovers.js";
import { type GatewayInstall, type Gateways, failureText, findGateways } from "../stores/discovery/gateway.js";
import { type AgentRef, agentRef } from "./event-hook.js";
import type { ProblemLog } from "./problem-log.js";
import { agentNames } from "./report-log.js";

export class AgentRegistry {
  private known: Agent[] = [];
  /** Whether a full pass has found the agents yet: the first one cleans up after a killed run, quietly. */
  private found = false;
  /** Each gateway found last, by its state dir; none when nothing can be synced. */
  private stores = new Map<string, GatewayStores>();
  /** The configured state dirs that the last find could not serve. */
  private failed = new Set<string>();
  /** Whether the last find served nothing at all: without stateDirs, the one state dir was missing or no gateway's. */
  private noneFound = false;
  /** Names an agent's state dir on log lines when several gateways are served. */
  private stateDirLabel: Gateways["stateDirLabel"] = () => undefined;

  constructor(
    private readonly problems: ProblemLog,
    private readonly lockJournal: string,
    /** A state dir that could not be served is found now (a volume mounted after start). */
    private readonly onFoundAgain: (stateDir: string) => void = () => undefined,
  ) {}

  get agents(): readonly Agent[] {
    return this.known;
  }

  /** The known agents as the hook and the logs name them: each with its state dir when several are served. */
  get refs(): AgentRef[] {
    return this.known.map((a) => this.refOf(a));
  }

  refOf(agent: Agent): AgentRef {
    return agentRef(agent.id, this.stateDirLabel(agent.stateDir));
  }

  /** The gateway an agent belongs to, as the last find saw it; undefined for a state dir not served. */
  storesOf(agent: Agent): GatewayStores | undefined {
    return this.stores.get(agent.stateDir);
  }

  /** These agents, each with its own gateway's adapter. */
  select(agents: readonly Agent[]): GatewayStores[] {
    return [...this.stores].map(([dir, stores]) => ({ ...stores, agents: agents.filter((a) => a.stateDir === dir) }));
  }

  /** Every gateway with its agents and the adapter for its generation; undefined when none can be synced. */
  async find(config: Config, env: NodeJS.ProcessEnv): Promise<GatewayStores[] | undefined> {
    const { problems } = this;
    let gateways: Gateways;
    try {
      gateways = await findGateways(config, env);
    } catch (err) {
      problems.problem("targets", "error", "state_dir.missing", messageOf(err));
      this.stores = new Map();
      this.noneFound = true;
      return undefined;
    }
    this.stateDirLabel = gateways.stateDirLabel;
    const scoped = (dir: string) => {
      const stateDir = gateways.stateDirLabel(dir);
      return stateDir === undefined ? problems : problems.scoped(stateDir, { stateDir });
    };
    const wasFailed = this.failed;
    const wasNone = this.noneFound;
    this.noneFound = false;
    this.failed = new Set(gateways.failed.map((f) => f.dir));
    for (const f of gateways.failed) scoped(f.dir).problem("targets", "error", "state_dir.missing", failureText(f));
    const stores = new Map<string, GatewayStores>();
    const agents: Agent[] = [];
    for (const gateway of gateways.found) {
      const dir = gateway.stateDir.dir;
      const found = this.serve(gateway, gateways, scoped(dir));
      if (!found) continue;
      stores.set(dir, found);
      agents.push(...gateway.agents);
      if (wasNone || wasFailed.has(dir)) this.onFoundAgain(dir);
    }
    this.stores = stores;
    if (stores.size === 0) return undefined;
    const first = !this.found;
    this.found = true;
    if (first) await this.cleanUp(agents);
    const found = new Set(agents.map((a) => a.dir));
    for (const gone of this.known.filter((a) => !found.has(a.dir))) this.forget(gone);
    this.note(agents, first);
    this.known = [...agents];
    return [...stores.values()];
  }

  /** Logs one gateway's problems and recoveries; what the pass needs of it, or undefined when it cannot be written. */
  private serve(gateway: GatewayInstall, gateways: Gateways, problems: ProblemLog): GatewayStores | undefined {
    problems.clear("targets", "state_dir.found", `state dir ${gateway.stateDir.dir} found`);
    const gatewayConfig = gateway.gatewayConfig;
    if (gatewayConfig?.error) {
      const why = `cannot be parsed (${gatewayConfig.error}); using the agents found on disk`;
      problems.problem(
        "gateway-config",
        "warn",
        "gateway_config.invalid",
        `gateway config ${gatewayConfig.file} ${why}`,
      );
    } else problems.clear("gateway-config", "gateway_config.recovered", "gateway config readable again");
    // Each skipped agent is one problem: logged once, and again only if the config changes it.
    const skipped = gateway.warnings.join("; ");
    if (skipped) problems.problem("agents-config", "warn", "gateway_config.invalid", skipped);
    else problems.clear("agents-config", "gateway_config.recovered", "every agent in agents.list is synced");
    try {
      const stores = gatewayStores(gateway, gateways);
      const msg = `the gateway store is writable again (${gateway.generation.format})`;
      problems.clear("generation", "store.recovered", msg);
      return stores;
    } catch (err) {
      problems.problem("generation", "error", "store.unsupported", messageOf(err));
      return undefined;
    }
  }

  /**
   * The agents of store events that still exist, added to the known ones. In the JSON eras, one whose folder is
   * gone was removed (`rm -rf`): writing its store would make it again, so it is forgotten instead. A SQLite-era
   * agent may have no folder yet (its database appears lazily) and we never create one: it stays.
   */
  present(agents: readonly Agent[]): Agent[] {
    const present: Agent[] = [];
    for (const agent of agents) {
      const sqlite = this.storesOf(agent)?.adapter.format === "sqlite";
      if (sqlite || isAgentDir(agent.dir)) present.push(agent);
      else this.forget(agent);
    }
    this.note(present);
    return present;
  }

  /** What a killed run left: held locks (from the journal) and temp files in the agent dirs. */
  private async cleanUp(agents: readonly Agent[]): Promise<void> {
    for (const lock of await recoverLeftLocks(this.lockJournal))
      this.problems.event("info", "store.cleaned", `removed ${lock}, left by a killed moltbot-auth-sync`, { lock });
    for (const agent of agents) {
      const removed = await removeLeftTempFiles(agent.dir);
      if (removed.length === 0) continue;
      const msg = `removed ${removed.length} temp file(s) a killed writer left in ${agent.dir}`;
      this.problems.event("info", "store.cleaned", msg, { ...this.refOf(agent), files: removed });
    }
  }

  private forget(agent: Agent): void {
    if (!this.known.some((a) => a.dir === agent.dir)) return;
    this.known = this.known.filter((a) => a.dir !== agent.dir);
    const msg = `agent ${agentNames([this.refOf(agent)])} is gone; no longer synced`;
    this.problems.event("info", "agent.removed", msg, { ...this.refOf(agent) });
  }

  /** Adds agents not seen before to the known list, logging each (except on the first find). */
  private note(agents: readonly Agent[], quiet = false): void {
    const known = new Set(this.known.map((a) => a.dir));
    for (const agent of agents) {
      if (known.has(agent.dir)) continue;
      const ref = this.refOf(agent);
      if (!quiet) this.problems.event("info", "agent.added", `new agent ${agentNames([ref])}`, { ...ref });
      this.known.push(agent);
      known.add(agent.dir);
    }
  }
}
