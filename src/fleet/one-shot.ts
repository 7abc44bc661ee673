/**
 * A command's single errand to the fleet (`token set`, `token clear`): the member is made, used once and closed,
 * without joining (no host record, no campaign, no watch). etcd not answering is the command's error, in one line.
 */
import type { Config } from "../config/config.js";
import { AuthSyncError } from "../core/errors.js";
import { systemClock } from "../daemon/clock.js";
import { etcdErrorText } from "./etcd.js";
import { FleetMember } from "./member.js";

export async function withFleet<T>(
  config: Config,
  env: NodeJS.ProcessEnv,
  errand: (member: FleetMember) => Promise<T>,
): Promise<T | undefined> {
  if (!config.fleet) return undefined;
  const member = await FleetMember.create({
    fleet: config.fleet,
    env,
    clock: systemClock,
    timers: { set: () => undefined },
    log: { event: () => undefined, problem: () => undefined, clear: () => undefined, forget: () => undefined },
    onChange: () => undefined,
    onLeadership: () => undefined,
  });
  try {
    return await errand(member);
  } catch (err) {
    throw new AuthSyncError(
      `the fleet's etcd (${config.fleet.etcd.endpoints.join(", ")}): ${etcdErrorText(err)}`,
      "fleet",
    );
  } finally {
    await member.close();
  }
}
