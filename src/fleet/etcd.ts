/**
 * The etcd client as fleet mode makes it: every unary call has a deadline per attempt and one retry on another
 * member, so that an unreachable or quorum-less cluster is an error within CALL_DEADLINE_MS × 2 rather than a pass
 * or a `status` that hangs (etcd3's default retries three times; its `dialTimeout` bounds nothing). Streams
 * (watches, lease keep-alives) have no deadline: etcd3 reconnects them itself. TLS files and the password are read
 * as the daemon's other secrets are.
 */
import type { Etcd3, IOptions } from "etcd3";
import type { FleetConfig } from "../config/config.js";
import { AuthSyncError, messageOf } from "../core/errors.js";
import { expandHome } from "../fs/home.js";
import { readRegularFile } from "../fs/read-file.js";
import { assertTrusted } from "../fs/trust.js";
import { readPrivateFile } from "./seal.js";

/** How long one attempt of an etcd call may take (a call makes two at most). */
export const CALL_DEADLINE_MS = 3_000;

export class FleetConfigError extends AuthSyncError {
  constructor(message: string) {
    super(message, "fleet.config");
  }
}

/** A file named in `fleet` (trusted owner, regular file, small); a `secret` one no one else may read. */
async function readFleetFile(file: string, what: string, env: NodeJS.ProcessEnv, secret = false): Promise<string> {
  const at = expandHome(file, env.HOME ?? "");
  try {
    if (secret) return await readPrivateFile(at, `use the ${what} in`);
    assertTrusted(at, { action: `use the ${what} in` });
    return await readRegularFile(at, { maxBytes: 64 * 1024 });
  } catch (err) {
    throw new FleetConfigError(`fleet ${what} ${at}: ${messageOf(err)}`);
  }
}

/** An etcd client error in one line: gRPC's own ends in an empty "Resolution note:". */
export function etcdErrorText(err: unknown): string {
  return messageOf(err)
    .replace(/\s*Resolution note:\s*$/, "")
    .replace(/\s+/g, " ");
}

export async function connectEtcd(fleet: FleetConfig, env: NodeJS.ProcessEnv): Promise<Etcd3> {
  // Loaded here, not with the module: a daemon or command outside fleet mode never loads etcd3 and gRPC (about 10 MB
  // of the idle daemon's memory).
  const [{ Etcd3, isRecoverableError }, { handleWhen, retry }] = await Promise.all([
    import("etcd3"),
    import("cockatiel"),
  ]);
  const { etcd } = fleet;
  const options: IOptions = {
    hosts: etcd.endpoints,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    faultHandling: { global: retry(handleWhen(isRecoverableError), { maxAttempts: 1 }) },
  };
  if (etcd.tls) {
    const [ca, cert, key] = await Promise.all([
      readFleetFile(etcd.tls.ca, "TLS CA", env),
      readFleetFile(etcd.tls.cert, "TLS certificate", env),
      readFleetFile(etcd.tls.key, "TLS key", env, true),
    ]);
    options.credentials = {
      rootCertificate: Buffer.from(ca),
      certChain: Buffer.from(cert),
      privateKey: Buffer.from(key),
    };
  }
  if (etcd.username !== undefined) {
    if (etcd.passwordFile === undefined)
      throw new FleetConfigError("fleet.etcd.username needs fleet.etcd.passwordFile");
    const password = (await readFleetFile(etcd.passwordFile, "password file", env, true)).replace(/\r?\n$/, "");
    options.auth = { username: etcd.username, password };
  }
  return new Etcd3(options);
}
