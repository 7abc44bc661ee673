/**
 * Taking our profile out of a store, for `remove` before an uninstall: the profile and its usage stats, nothing
 * else (the gateway drops an `order` or `lastGood` entry naming a profile it no longer has). Pure, as profile.ts.
 */
import type { AuthProfileStore } from "../types.js";
import { fingerprint } from "../core/fingerprint.js";
import { ANTHROPIC, type Reconciled, profileSecret } from "./profile.js";

/**
 * `ours` says whether a held secret is ours (setup-token ids: sources/token-book.ts); without it, any Anthropic
 * credential under the id is (a login's profile id is ours by the config). Another provider's never is.
 */
export function removeProfile(
  store: AuthProfileStore,
  profileId: string,
  ours?: (secret: string) => boolean,
): Reconciled {
  const current = store.profiles[profileId];
  if (!current) return { next: store, outcome: { result: "unchanged" } };
  const secret = profileSecret(current);
  if (current.provider !== ANTHROPIC || (ours && (secret === undefined || !ours(secret)))) {
    const held =
      current.provider !== ANTHROPIC ? `a ${JSON.stringify(current.provider)} credential` : fingerprint(secret);
    const reason = `holds ${held}, which moltbot-auth-sync did not put there: left as it is`;
    return { next: store, outcome: { result: "skipped", reason, code: "not-ours" } };
  }
  const { [profileId]: _profile, ...profiles } = store.profiles;
  const next: AuthProfileStore = { ...store, profiles };
  if (store.usageStats && profileId in store.usageStats) {
    const { [profileId]: _stats, ...usageStats } = store.usageStats;
    next.usageStats = usageStats;
  }
  return { next, outcome: { result: "removed" } };
}
