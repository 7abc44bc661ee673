/**
 * Which Host headers the metrics server answers. A DNS-rebinding page reaches a loopback server under its own
 * name (`rebind.example` resolving to 127.0.0.1), and the browser then lets it read the answer: `/healthz` names
 * home folders, agents and our pid. Its Host header still carries that name, so only names that cannot be
 * rebound are served: loopback (`localhost`, 127.0.0.0/8, `[::1]`), the configured listen host, and with
 * `metrics.allowRemote` any IP address, which is what a remote scraper uses for a server bound to all interfaces.
 */
import { isIP } from "node:net";
import { type ListenAddress, isLoopback } from "../config/listen.js";

const HOST_HEADER = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/;

export interface HostRule {
  listen: ListenAddress;
  /** The port actually bound (the configured one, or what port 0 picked). */
  port: number;
  allowRemote: boolean;
}

export function hostAllowed(header: string | undefined, rule: HostRule): boolean {
  const match = header === undefined ? null : HOST_HEADER.exec(header);
  if (!match) return false;
  const bracketed = match[1] !== undefined;
  const name = (match[1] ?? match[2]!).toLowerCase();
  if (bracketed && isIP(name) !== 6) return false;
  if (!bracketed && isIP(name) === 6) return false;
  if (match[3] !== undefined && Number(match[3]) !== rule.port) return false;
  if (isLoopback(name) || name === rule.listen.host.toLowerCase()) return true;
  return rule.allowRemote && isIP(name) !== 0;
}
