/**
 * The SQLite-era gateway's own code path for failure bookkeeping: a small script, run with the gateway's Node,
 * that loads the agent's auth store and calls the gateway's `markAuthProfileFailure` (the function a failing
 * turn calls), `count` times for each of a comma-separated list of profile ids, in one process. Chunk files
 * are hashed per release, so they are found by the function names they define, and their export letters
 * are read from the export line.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type Gateway, runGateway } from "./gateway.js";

export function exportedAs(dist: string, definition: RegExp, name: string): { file: string; letter: string } {
  for (const file of readdirSync(dist).filter((f) => f.endsWith(".mjs"))) {
    const text = readFileSync(path.join(dist, file), "utf8");
    if (!definition.test(text)) continue;
    const letter = new RegExp(`\\b${name} as (\\w+)\\b`).exec(text)?.[1];
    if (letter) return { file, letter };
  }
  throw new Error(`no chunk in ${dist} exports ${name}`);
}

/** Writes the script (again, it is cheap) into the gateway's cache folder and returns its path. */
export function markScript(gateway: Gateway): string {
  const dist = path.join(path.dirname(gateway.entry), "dist");
  const mark = exportedAs(dist, /async function markAuthProfileFailure\(/, "markAuthProfileFailure");
  const loader = "loadAuthProfileStoreWithoutExternalProfiles";
  const load = exportedAs(dist, new RegExp(`${loader},`), loader);
  const script = path.join(path.dirname(path.dirname(gateway.entry)), "..", "mark-failure.mjs");
  writeFileSync(
    script,
    [
      `const [profileIds, reason, count, agentDir] = process.argv.slice(2);`,
      `const ids = profileIds.split(",");`,
      `const usage = await import(${JSON.stringify(path.join(dist, mark.file))});`,
      `const rt = await import(${JSON.stringify(path.join(dist, load.file))});`,
      `const dir = agentDir || undefined;`,
      `for (let i = 0; i < Number(count); i++) {`,
      `  for (const profileId of ids) {`,
      `    const store = rt.${load.letter}(dir);`,
      `    await usage.${mark.letter}({ store, profileId, reason, agentDir: dir });`,
      `  }`,
      `}`,
      `process.stdout.write(JSON.stringify(rt.${load.letter}(dir).usageStats?.[ids[0]] ?? null));`,
    ].join("\n"),
  );
  return script;
}

/** Records `count` failures of `profileId` as the gateway's own runtime does; returns the stats it ends with. */
export async function gatewayMarkFailure(
  gateway: Gateway,
  stateDir: string,
  home: string,
  profileId: string,
  reason: string,
  options: { count?: number; agentDir?: string } = {},
): Promise<Record<string, unknown> | null> {
  const args = [profileId, reason, String(options.count ?? 1), options.agentDir ?? ""];
  const { stdout } = await runGateway(gateway, args, stateDir, home, markScript(gateway));
  return JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown> | null;
}
