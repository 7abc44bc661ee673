/**
 * The health verdict: healthy when the daemon's last pass succeeded and every profile we keep is usable in
 * every agent, by the same rule as `status` (statusVerdict). `/healthz` answers with it, and the usable gauge
 * shows it per agent and profile.
 */
import type { PassResult } from "../pass/pass.js";
import { passReports } from "../pass/pass.js";
import { type StatusReport, statusJson } from "../report/collect-status.js";
import { STATUS_UNUSABLE } from "../report/status.js";

/** How the last pass went, as the daemon ran it. */
export interface PassOutcome {
  at: number;
  ok: boolean;
  /** Why it did not succeed, in one line. */
  why?: string;
}

/** A pass succeeded when it reached the agents, wrote where it had to, and had no reason to mark our profile. */
export function passOutcome(result: PassResult | undefined, at: number): PassOutcome {
  if (!result) return { at, ok: false, why: "the last pass did not reach the agents (see the log)" };
  if (result.marking) return { at, ok: false, why: `our profile had to be marked: ${result.marking.failure.message}` };
  const failed = passReports(result).filter((r) => r.result === "failed");
  if (failed.length > 0) {
    const where = failed.map((r) => `${r.agent} (${r.reason ?? r.code ?? "failed"})`).join(", ");
    return { at, ok: false, why: `the last pass failed in ${where}` };
  }
  return { at, ok: true };
}

export interface Health {
  healthy: boolean;
  body: Record<string, unknown>;
}

/** The `/healthz` answer: the `status --json` shape, with `healthy` and `lastPass` in front. */
export function healthOf(report: StatusReport | Error, lastPass: PassOutcome | undefined, daemon: unknown): Health {
  const passWhy = !lastPass ? "no pass has finished yet" : lastPass.ok ? undefined : lastPass.why;
  if (report instanceof Error) {
    return { healthy: false, body: { healthy: false, why: report.message, lastPass: lastPass ?? null, daemon } };
  }
  const usable = report.verdict.code !== STATUS_UNUSABLE;
  const healthy = usable && passWhy === undefined;
  const status = statusJson(report, daemon);
  // The profile's own problem says more than the pass's (which is often its consequence).
  const why = usable ? passWhy : report.verdict.why;
  return { healthy, body: { healthy, lastPass: lastPass ?? null, ...status, ...(why ? { why } : {}) } };
}

export interface Usability {
  agent: string;
  /** With several gateways, the agent's state dir. */
  stateDir?: string;
  profile: string;
  usable: boolean;
  /** When not usable: "cooldown" or "disabled" (a marking), "expired", "missing" or "unreadable". */
  kind?: string;
  reason?: string;
}

/** Whether each agent holds each profile we keep usable, as statusVerdict judges one. */
export function usability(report: StatusReport): Usability[] {
  const out: Usability[] = [];
  for (const agent of report.agents) {
    const where = agent.stateDir === undefined ? {} : { stateDir: agent.stateDir };
    if (agent.error) {
      out.push({ agent: agent.agent, ...where, profile: report.profile, usable: false, kind: "unreadable" });
      continue;
    }
    for (const profile of agent.profiles) {
      const base = { agent: agent.agent, ...where, profile: profile.profileId };
      const marking = agent.markings.find((m) => m.profile === profile.profileId);
      if (!profile.present) out.push({ ...base, usable: false, kind: "missing" });
      else if (marking) out.push({ ...base, usable: false, kind: marking.kind, reason: marking.reason ?? "" });
      else if (profile.expires !== undefined && profile.expires <= report.now) {
        out.push({ ...base, usable: false, kind: "expired" });
      } else out.push({ ...base, usable: true });
    }
  }
  return out;
}
