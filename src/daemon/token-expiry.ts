/**
 * The daemon's word that a setup-token must be renewed: `token.expiring` from 30 days before its expiry,
 * `token.expired` once it has passed, each with the `onEvent` hook. A pass runs every few minutes, so each
 * token's alert is repeated at most once a day (and again when it moves from expiring to expired, or is
 * replaced by one with another expiry); a restarted daemon says it once more at its first pass.
 */
import { DAY, formatWhen } from "../core/duration.js";
import type { LogEvent } from "../log/logger.js";
import type { Offer } from "../reconcile/offer.js";
import { SETUP_TOKEN_WARNING_MS } from "../sources/setup-token.js";
import type { AgentRef, HookEvent, HookFacts } from "./event-hook.js";
import { agentsFields } from "./report-log.js";
import type { Fields, Level } from "./problem-log.js";

/** The longest a due alert stays unsaid. */
export const TOKEN_ALERT_EVERY_MS = DAY;

type Emit = (level: Level, event: LogEvent, msg: string, fields: Fields) => void;
type Hook = (event: HookEvent, facts: HookFacts) => void;

export class TokenExpiryAlerts {
  /** Per profile id: which alert was last said (its event and the expiry it was about), and when. */
  private said = new Map<string, { key: string; at: number }>();

  constructor(
    private readonly emit: Emit,
    private readonly hook: Hook,
  ) {}

  /** Says what is due for these setup-token offers; `agents` are the agents the hook names as holding them. */
  check(offers: readonly Offer[], agents: readonly AgentRef[], now: number = Date.now()): void {
    const current = new Set<string>();
    for (const offer of offers) {
      const expires = offer.kind === "setup-token" ? offer.profile.expires : undefined;
      // A token of unknown expiry (the environment's, or one stored before expiries were kept) has nothing to say.
      if (expires === undefined) continue;
      const event = expires <= now ? "token.expired" : expires - now <= SETUP_TOKEN_WARNING_MS ? "token.expiring" : "";
      if (event === "") continue;
      current.add(offer.profileId);
      const key = `${event}:${expires}`;
      const last = this.said.get(offer.profileId);
      if (last?.key === key && now - last.at < TOKEN_ALERT_EVERY_MS) continue;
      this.said.set(offer.profileId, { key, at: now });
      const fix = `run \`claude setup-token\`, then \`moltbot-auth-sync token set --profile ${offer.profileId}\``;
      const reason =
        event === "token.expired"
          ? `setup-token ${offer.profileId} expired ${formatWhen(expires, now)}; the gateway no longer uses it`
          : `setup-token ${offer.profileId} expires ${formatWhen(expires, now)}`;
      const fields = { profile: offer.profileId, expires, ...agentsFields(agents) };
      this.emit(event === "token.expired" ? "error" : "warn", event, `${reason}. Fix: ${fix}`, fields);
      this.hook(event, { profile: offer.profileId, reason, agents: [...agents] });
    }
    for (const id of [...this.said.keys()]) if (!current.has(id)) this.said.delete(id);
  }
}
