/**
 * Secrets in etcd are sealed (AES-256-GCM, node:crypto): etcd's own encryption at rest is off by default, its
 * backups and `etcdctl get` show values in the clear, and a host that may read a key may read them all. The
 * etcd key a value is stored under is its associated data, so a sealed value moved to another key (another
 * login's, a setup-token's) does not open. Each sealed value names its key by id, so a rotation can open the
 * old key's values while the new key seals (docs/fleet.md).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { AuthSyncError, messageOf } from "../core/errors.js";
import { openRegularFile } from "../fs/read-file.js";
import { assertTrusted } from "../fs/trust.js";

const KEY_BYTES = 32;
const IV_BYTES = 12;

export interface FleetKey {
  /** Names the key in sealed values; not secret (a digest of a domain string and the key). */
  id: string;
  bytes: Buffer;
}

export class FleetKeyError extends AuthSyncError {
  constructor(message: string) {
    super(message, "fleet.key");
  }
}

/** A key as a file holds it: 32 bytes as base64 (`openssl rand -base64 32`) or hex, one line. */
export function parseKey(text: string, where: string): FleetKey {
  const line = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(line) ? Buffer.from(line, "hex") : Buffer.from(line, "base64");
  if (bytes.length !== KEY_BYTES || (!/^[0-9a-fA-F]{64}$/.test(line) && bytes.toString("base64") !== line))
    throw new FleetKeyError(`${where}: expected 32 random bytes as base64 or hex (make one: openssl rand -base64 32)`);
  const id = createHash("sha256").update("moltbot-auth-sync fleet key\0").update(bytes).digest("hex").slice(0, 12);
  return { id, bytes };
}

/**
 * Refuses a secret file others may read or write, as ssh refuses such a private key: this one opens every secret
 * of the fleet. The mode is checked on the file opened, not on the path again.
 */
export async function readPrivateFile(file: string, action: string): Promise<string> {
  assertTrusted(file, { action });
  const handle = await openRegularFile(file, { maxBytes: 64 * 1024 });
  try {
    const { mode } = await handle.stat();
    if ((mode & 0o077) !== 0) {
      const octal = (mode & 0o777).toString(8).padStart(4, "0");
      throw new Error(`others may read or write it (mode ${octal}); run: chmod 600 ${file}`);
    }
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/** Reads a key file: ours or root's, and no one else's to read (it opens every secret of the fleet). */
export async function readKey(file: string): Promise<FleetKey> {
  try {
    return parseKey(await readPrivateFile(file, "use the fleet key in"), `fleet key ${file}`);
  } catch (err) {
    if (err instanceof FleetKeyError) throw err;
    throw new FleetKeyError(`fleet key ${file}: ${messageOf(err)}`);
  }
}

/** What etcd holds for a sealed value. */
export interface Sealed {
  sealed: 1;
  key: string;
  iv: string;
  tag: string;
  data: string;
}

export function seal(key: FleetKey, etcdKey: string, plain: string): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes, iv);
  cipher.setAAD(Buffer.from(etcdKey));
  const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return {
    sealed: 1,
    key: key.id,
    iv: iv.toString("base64"),
    tag: tag.toString("base64"),
    data: data.toString("base64"),
  };
}

/** Opens a sealed value with whichever of `keys` sealed it; a value no key opens is an error that says which. */
export function open(keys: readonly FleetKey[], etcdKey: string, value: Sealed): string {
  const key = keys.find((k) => k.id === value.key);
  if (!key) throw new FleetKeyError(`${etcdKey} is sealed with key ${value.key}, which this host does not hold`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.bytes, Buffer.from(value.iv, "base64"));
    decipher.setAAD(Buffer.from(etcdKey));
    decipher.setAuthTag(Buffer.from(value.tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(value.data, "base64")), decipher.final()]).toString("utf8");
  } catch {
    throw new FleetKeyError(`${etcdKey} does not open with key ${key.id}: altered, or sealed for another key`);
  }
}
