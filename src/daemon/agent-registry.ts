/**
 * The agents the daemon syncs and the store adapter for their generation, as the last full pass found them:
 * new agents are logged as added, vanished ones as removed, and the first find cleans up after a killed run.
 */
import type { Config } from "../config/config.js";
import { messageOf } from "../core/errors.js";
import { type CooldownConfig, DEFAULT_COOLDOWN_CONFIG } from "../reconcile/cooldown.js";
import type { StoreAdapter } from "../stores/adapter.js";
import { type Agent, cooldownConfigFrom, isAgentDir } from "../stores/agents.js";
import { removeStaleTempFiles } from "../stores/json-file.js";
import { recoverLocks } from "../stores/locks/journal.js";
import { adapterFor } from "../stores/adapter-for.js";
import { findGateway } from "../stores/gateway.js";
import type { ProblemLog } from "./problem-log.js";

export class AgentRegistry {
  private known: Agent[] = [];
  /** Whether a full pass has found the agents yet: the first one cleans up after a killed run, quietly. */
  private found = false;
  /** The adapter for the store generation found last; undefined when we must not write. */
  adapter: StoreAdapter | undefined;
  cooldowns: CooldownConfig = DEFAULT_COOLDOWN_CONFIG;

  constructor(
    private readonly problems: ProblemLog,
    private readonly lockJournal: string,
  ) {}

  get agents(): readonly Agent[] {
    return this.known;
  }

  /** Every agent of the gateway, with the adapter for its generation; undefined when none can be synced. */
  async find(config: Config, env: NodeJS.ProcessEnv): Promise<Agent[] | undefined> {
    const { problems } = this;
    let targets;
    try {
      targets = await findGateway(config, env);
    } catch (err) {
      problems.problem("targets", "error", "state_dir.missing", messageOf(err));
      return undefined;
    }
    problems.clear("targets", "state_dir.found", `state dir ${targets.stateDir.dir} found`);
    const gatewayConfig = targets.gatewayConfig;
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
    const skipped = targets.warnings.join("; ");
    if (skipped) problems.problem("agents-config", "warn", "gateway_config.invalid", skipped);
    else problems.clear("agents-config", "gateway_config.recovered", "every agent in agents.list is synced");
    this.cooldowns = cooldownConfigFrom(gatewayConfig?.value);
    try {
      this.adapter = adapterFor(targets.generation, targets.stateDir.dir);
      const msg = `the gateway store is writable again (${targets.generation.format})`;
      problems.clear("generation", "store.recovered", msg);
    } catch (err) {
      this.adapter = undefined;
      problems.problem("generation", "error", "store.unsupported", messageOf(err));
      return undefined;
    }
    const first = !this.found;
    this.found = true;
    if (first) await this.cleanUp(targets.agents);
    for (const gone of this.known.filter((a) => !targets.agents.some((b) => b.dir === a.dir))) this.forget(gone);
    this.note(targets.agents, first);
    this.known = [...targets.agents];
    return targets.agents;
  }

  /**
   * The agents of store events that still exist, added to the known ones. One whose folder is gone was
   * removed (`rm -rf`): writing its store would make it again, so it is forgotten instead.
   */
  async present(agents: readonly Agent[]): Promise<Agent[]> {
    const present: Agent[] = [];
    for (const agent of agents) {
      if (await isAgentDir(agent.dir)) present.push(agent);
      else this.forget(agent);
    }
    this.note(present);
    return present;
  }

  /** What a killed run left: held locks (from the journal) and temp files in the agent dirs. */
  private async cleanUp(agents: readonly Agent[]): Promise<void> {
    for (const lock of await recoverLocks(this.lockJournal))
      this.problems.event("info", "store.cleaned", `removed ${lock}, left by a killed moltbot-auth-sync`, { lock });
    for (const agent of agents) {
      const removed = await removeStaleTempFiles(agent.dir);
      if (removed.length === 0) continue;
      const msg = `removed ${removed.length} temp file(s) a killed writer left in ${agent.dir}`;
      this.problems.event("info", "store.cleaned", msg, { agent: agent.id, files: removed });
    }
  }

  private forget(agent: Agent): void {
    if (!this.known.some((a) => a.dir === agent.dir)) return;
    this.known = this.known.filter((a) => a.dir !== agent.dir);
    this.problems.event("info", "agent.removed", `agent ${agent.id} is gone; no longer synced`, { agent: agent.id });
  }

  /** Adds agents not seen before to the known list, logging each (except on the first find). */
  private note(agents: readonly Agent[], quiet = false): void {
    const known = new Set(this.known.map((a) => a.dir));
    for (const agent of agents) {
      if (known.has(agent.dir)) continue;
      if (!quiet) this.problems.event("info", "agent.added", `new agent ${agent.id}`, { agent: agent.id });
      this.known.push(agent);
      known.add(agent.dir);
    }
  }
}
