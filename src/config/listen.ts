/**
 * The metrics server's `listen` address: "host:port", "[v6]:port". Only loopback is safe by default: the
 * endpoints need no login, and although they hold no secret they tell who runs what.
 */
import { BlockList, isIP } from "node:net";

export interface ListenAddress {
  host: string;
  port: number;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

/** The host and port of `listen`, or an error message saying what is wrong with it. */
export function parseListen(listen: string): ListenAddress | string {
  const match = HOST_PORT.exec(listen);
  const example = 'expected "host:port" such as "127.0.0.1:9477" or "[::1]:9477"';
  if (!match) return `${example}, got ${JSON.stringify(listen)}`;
  const host = (match[1] ?? match[2])!;
  const port = Number(match[3]);
  if (port > 65_535) return `port ${port} is above 65535`;
  if (match[1] !== undefined && isIP(host) !== 6) return `${JSON.stringify(host)} in brackets is not an IPv6 address`;
  if (match[1] === undefined && isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host)) {
    return `${JSON.stringify(host)} is not an IP address or host name`;
  }
  return { host, port };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** 127.0.0.0/8, ::1 (in any spelling, also ::ffff:127.x.y.z) and localhost: reachable from this host only. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? "ipv4" : "ipv6");
}
