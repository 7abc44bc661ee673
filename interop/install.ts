/**
 * Installs every gateway version the interop tests run against, once, into the interop cache, so that CI
 * (`.ci/run`) fetches them as a step of its own rather than inside a test's time budget.
 *   node dist/interop/install.js
 */
import { installGateway } from "./gateway.js";

/** Each generation's gateway: JSON v1, the split JSON stores, and the SQLite era (the latest release). */
export const GATEWAY_VERSIONS = ["2026.1.30", "2026.4.22", "2026.9.6"] as const;

for (const version of GATEWAY_VERSIONS) installGateway(version);
process.stderr.write(`interop: gateways ready: ${GATEWAY_VERSIONS.join(", ")}\n`);
