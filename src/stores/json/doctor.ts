/**
 * `doctor`'s check of a JSON-era gateway's store: the generation found, and why; its files need nothing of the
 * host.
 */
import { type Check, ok } from "../check.js";
import type { GatewayInstall } from "../discovery/gateway.js";

export function jsonStoreChecks({ generation }: GatewayInstall): Promise<Check[]> {
  const version = generation.version ? `, gateway ${generation.version}` : "";
  return Promise.resolve([ok("gateway store", `${generation.format}${version} (${generation.reason})`)]);
}
