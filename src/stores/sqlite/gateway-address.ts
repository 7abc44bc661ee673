/**
 * Where and how to reach the gateway that runs on a state dir, found as the gateway's own CLI finds it after an
 * auth write (`refreshRunningGatewayAuthState` → `callGateway` with `requireLocalBackendSharedAuth` in 2026.9.6):
 * the local loopback at `OPENCLAW_GATEWAY_PORT`, `gateway.port` or 18789, `wss:` when `gateway.tls.enabled`,
 * authenticated by the shared token or password of `gateway.auth` (the config's first, then
 * `OPENCLAW_GATEWAY_TOKEN` / `OPENCLAW_GATEWAY_PASSWORD`), never by a paired device.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expandHome } from "../../fs/home.js";

/** The gateway's default port (`DEFAULT_GATEWAY_PORT`). */
export const DEFAULT_GATEWAY_PORT = 18789;

/** The shared secret the gateway checks in the connect frame. Secrets: never logged, never printed. */
export interface GatewayAuth {
  token?: string;
  password?: string;
}

export interface GatewayAddress {
  url: string;
  port: number;
  auth: GatewayAuth;
  /** For `wss:`: the fingerprint of the gateway's own certificate. */
  fingerprint256?: string;
}

export type AddressResult =
  | { kind: "local"; address: GatewayAddress }
  /** `gateway.mode` is "remote": the gateway this host's CLI talks to runs elsewhere, on stores of its own. */
  | { kind: "remote" }
  /** The gateway would be at `port`, but we cannot authenticate to it: `problem` says why, in a few words. */
  | { kind: "unreachable"; port: number; problem: string };

type Json = Record<string, unknown>;
const record = (value: unknown): Json | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;

/** `OPENCLAW_GATEWAY_PORT` as the gateway parses it: a port, or `host:port` / `[v6]:port`. */
function envPort(raw: string | undefined): number | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  const digits = /^\d+$/.test(value)
    ? value
    : (/^\[[^\]]+\]:(\d+)$/.exec(value)?.[1] ??
      (value.indexOf(":") > 0 && value.indexOf(":") === value.lastIndexOf(":") ? value.split(":")[1] : undefined));
  if (!digits || !/^\d+$/.test(digits)) return undefined;
  const port = Number(digits);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** The port the CLI dials: the environment's, the config's, a named profile's (FNV-1a of its name), or the default. */
export function gatewayPort(gateway: Json | undefined, env: NodeJS.ProcessEnv): number {
  const fromEnv = envPort(env.OPENCLAW_GATEWAY_PORT);
  if (fromEnv !== undefined) return fromEnv;
  const configured = gateway?.port;
  if (typeof configured === "number" && Number.isFinite(configured) && configured > 0) return configured;
  const profile = env.OPENCLAW_PROFILE?.trim();
  if (!profile || profile.toLowerCase() === "default" || !/^[a-z0-9][a-z0-9_-]{0,63}$/i.test(profile)) {
    return DEFAULT_GATEWAY_PORT;
  }
  let hash = 2166136261;
  for (const byte of Buffer.from(profile, "utf8")) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
  return 20000 + (hash % 40000);
}

/**
 * A configured secret as the gateway reads it: a string (with `${VAR}` taken from the environment, and
 * undefined while one is unset, as the gateway rejects a placeholder left standing), or an `env` secret
 * reference. Any other reference (file, exec) only the gateway itself can resolve.
 */
function secret(value: unknown, env: NodeJS.ProcessEnv): { value?: string; configured: boolean; unresolved?: string } {
  if (typeof value === "string") {
    let missing = false;
    const text = value.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined || found === "") missing = true;
      return found ?? "";
    });
    const trimmed = text.trim();
    return { configured: value.trim() !== "", ...(trimmed && !missing ? { value: trimmed } : {}) };
  }
  const ref = record(value);
  if (!ref) return { configured: false };
  if (ref.source === "env" && typeof ref.id === "string") {
    const found = env[ref.id]?.trim();
    return { configured: true, ...(found ? { value: found } : {}) };
  }
  return { configured: true, unresolved: typeof ref.source === "string" ? ref.source : "unknown" };
}

/** The shared secrets of a local gateway, config first, as `resolveLocalGatewayCredentials` takes them. */
function credentials(gateway: Json | undefined, env: NodeJS.ProcessEnv) {
  const auth = record(gateway?.auth);
  const remote = record(gateway?.remote);
  const mode = typeof auth?.mode === "string" ? auth.mode : undefined;
  const token = secret(auth?.token, env);
  const password = secret(auth?.password, env);
  const envToken = env.OPENCLAW_GATEWAY_TOKEN?.trim() || undefined;
  const envPassword = env.OPENCLAW_GATEWAY_PASSWORD?.trim() || undefined;
  const resolved = {
    token: token.value ?? envToken ?? (token.configured ? undefined : secret(remote?.token, env).value),
    password:
      password.value ??
      envPassword ??
      (password.configured || mode === "trusted-proxy" ? undefined : secret(remote?.password, env).value),
  };
  return { mode: mode ?? (resolved.password ? "password" : "token"), resolved, token, password };
}

/** The gateway's certificate: `gateway.tls.certPath`, or the one it generates in `<state>/gateway/tls/`. */
function certificateFingerprint(tls: Json, stateDir: string, env: NodeJS.ProcessEnv): string | { problem: string } {
  const home = env.HOME || os.homedir();
  const configured = typeof tls.certPath === "string" && tls.certPath.trim() ? tls.certPath.trim() : undefined;
  const file = configured
    ? path.resolve(expandHome(configured, home))
    : path.join(stateDir, "gateway", "tls", "gateway-cert.pem");
  try {
    return new X509Certificate(readFileSync(file)).fingerprint256;
  } catch (err) {
    return {
      problem: `its TLS certificate ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? "invalid"})`,
    };
  }
}

/** How to reach the gateway of `stateDir` whose config is `config` (the parsed `openclaw.json`). */
export function gatewayAddress(config: Json | undefined, stateDir: string, env: NodeJS.ProcessEnv): AddressResult {
  const gateway = record(config?.gateway);
  if (gateway?.mode === "remote") return { kind: "remote" };
  const port = gatewayPort(gateway, env);
  const { mode, resolved, token, password } = credentials(gateway, env);
  const auth: GatewayAuth = {
    ...(resolved.token ? { token: resolved.token } : {}),
    ...(resolved.password ? { password: resolved.password } : {}),
  };
  // The CLI refuses to call without a shared secret unless the gateway asks for none (`auth.mode: "none"`).
  const shared = (mode === "token" && auth.token) || (mode === "password" && auth.password) || mode === "none";
  if (!shared) {
    const field = mode === "password" ? password : token;
    const name = `gateway.auth.${mode === "password" ? "password" : "token"}`;
    const variable = mode === "password" ? "OPENCLAW_GATEWAY_PASSWORD" : "OPENCLAW_GATEWAY_TOKEN";
    const problem =
      mode !== "token" && mode !== "password"
        ? `its auth mode "${mode}" takes no shared token or password`
        : field.unresolved
          ? `${name} is a "${field.unresolved}" secret reference, which only the gateway resolves; set ${variable}`
          : `neither ${name} nor ${variable} is set here`;
    return { kind: "unreachable", port, problem };
  }
  const tls = record(gateway?.tls);
  if (tls?.enabled !== true) return { kind: "local", address: { url: `ws://127.0.0.1:${port}`, port, auth } };
  const pinned = certificateFingerprint(tls, stateDir, env);
  if (typeof pinned !== "string") return { kind: "unreachable", port, problem: pinned.problem };
  return { kind: "local", address: { url: `wss://127.0.0.1:${port}`, port, auth, fingerprint256: pinned } };
}
