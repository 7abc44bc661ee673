/**
 * The Claude logins the daemon keeps in step, one profile each: `logins` when configured, otherwise the single
 * login of `claudeConfigDir` and `profileId`. Each login is seen through its own view of the config, so every
 * part that reads `config.claudeConfigDir` and `config.profileId` serves one login unchanged.
 */
import type { Config } from "./config.js";

/** One view of the config per login, in the configured order. */
export function loginConfigs(config: Config): Config[] {
  if (!config.logins) return [config];
  return config.logins.map((login) => ({ ...config, ...login }));
}

/** Every profile id a login is synced into (setup-tokens never take one of them). */
export function loginProfileIds(config: Config): string[] {
  return loginConfigs(config).map((c) => c.profileId);
}

/** The fields that name a login on a log line; none without `logins`, where the one login needs no name. */
export function loginFields(config: Config, login: Config): Record<string, string> {
  if (!config.logins) return {};
  return { login: login.profileId, claudeConfigDir: login.claudeConfigDir ?? "" };
}
