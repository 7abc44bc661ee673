/**
 * doctor's checks of fleet mode (docs/fleet.md): the keys this host holds, whether etcd answers, and, as etcd says
 * now, which host refreshes each login and whether a refresh was left unfinished. Each failure names its fix.
 */
import type { Config, FleetConfig } from "../config/config.js";
import { loginConfigs } from "../config/logins.js";
import { formatRelative } from "../core/duration.js";
import { messageOf } from "../core/errors.js";
import { shellQuote } from "../core/terminal-text.js";
import { expandHome } from "../fs/home.js";
import { withFleet } from "../fleet/one-shot.js";
import { readKey } from "../fleet/seal.js";
import { type Check, fail, ok, warn } from "../stores/check.js";

export async function fleetChecks(config: Config, fleet: FleetConfig, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const checks: Check[] = [];
  const file = (f: string) => expandHome(f, env.HOME ?? "");
  const makeKey = (f: string) => `openssl rand -base64 32 > ${shellQuote(f)} && chmod 600 ${shellQuote(f)}`;
  try {
    checks.push(ok("fleet key", `key ${(await readKey(file(fleet.keyFile))).id} (the same on every host)`));
  } catch (err) {
    checks.push(
      fail(
        "fleet key",
        messageOf(err),
        `copy the fleet's key to ${shellQuote(fleet.keyFile)}, or ${makeKey(fleet.keyFile)} on the first host`,
      ),
    );
  }
  if (fleet.loginKeyFile === undefined) {
    checks.push(ok("fleet login key", "none: this host follows, and never refreshes a login"));
  } else {
    try {
      const id = (await readKey(file(fleet.loginKeyFile))).id;
      checks.push(ok("fleet login key", `key ${id}: this host stands by for the logins its claude holds`));
    } catch (err) {
      checks.push(
        fail(
          "fleet login key",
          messageOf(err),
          `copy the login key from a standby host to ${shellQuote(fleet.loginKeyFile)}`,
        ),
      );
    }
  }
  if (checks.some((c) => c.status === "fail")) return checks;
  const endpoints = fleet.etcd.endpoints.join(",");
  try {
    let mismatch: string | undefined;
    const view = await withFleet(config, env, async (member) => {
      const seen = await member.look();
      mismatch = member.loginKeyMismatch;
      return seen;
    });
    if (mismatch)
      checks.push(
        fail(
          "fleet login key",
          mismatch,
          `copy the login key from a standby host to ${shellQuote(fleet.loginKeyFile!)}`,
        ),
      );
    const now = Date.now();
    const hosts = view!.hosts.map((h) => h.host).join(", ") || "none yet";
    checks.push(ok("fleet etcd", `${endpoints} answers; this host is ${view!.host}; hosts: ${hosts}`));
    for (const login of loginConfigs(config)) {
      const id = login.profileId;
      const leader = view!.leaders[id];
      const left = view!.unfinished[id];
      if (left) {
        const why = `${left.host} began a refresh ${formatRelative(left.at, now)} and never published it`;
        checks.push(
          warn(
            `fleet ${id}`,
            why,
            `start the daemon on ${left.host} again (it hands its refresh back), ` +
              "or run `claude auth login` on the host that refreshes it now",
          ),
        );
      } else if (leader) checks.push(ok(`fleet ${id}`, `refreshed by ${leader}`));
      else
        checks.push(
          warn(
            `fleet ${id}`,
            "no host refreshes it",
            "run the daemon on a host whose claude holds the login, with fleet.loginKeyFile",
          ),
        );
    }
  } catch (err) {
    const fix =
      `ETCDCTL_API=3 etcdctl --endpoints=${endpoints} endpoint health   ` +
      "(and check fleet.etcd's tls, username and passwordFile)";
    checks.push(fail("fleet etcd", messageOf(err), fix));
  }
  return checks;
}
