/**
 * The SQLite-era gateway's own refresh fences: a small script, run with the gateway's Node, that stores an `oauth`
 * profile and fences it with the gateway's `createOAuthRefreshFence` (pending) and `createFailedOAuthRefreshFence`
 * (failed), saving through its `updateAuthProfileStoreWithLock`, as its refresh does. The credential comes on stdin,
 * never on a command line. Chunks are found by the function names they define (gateway-usage.ts).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { type Gateway, runGateway } from "./gateway.js";
import { exportedAs } from "./gateway-usage.js";

function fenceScript(gateway: Gateway): string {
  const dist = path.join(path.dirname(gateway.entry), "dist");
  const chunk = (definition: RegExp, name: string) => {
    const { file, letter } = exportedAs(dist, definition, name);
    return { file: JSON.stringify(path.join(dist, file)), letter };
  };
  const fence = chunk(/function createOAuthRefreshFence\(/, "createOAuthRefreshFence");
  const failed = chunk(/function createFailedOAuthRefreshFence\(/, "createFailedOAuthRefreshFence");
  const digest = chunk(/function readOAuthRefreshGenerationDigest\(/, "readOAuthRefreshGenerationDigest");
  const update = chunk(/const \{[^}]*\bupdateAuthProfileStoreWithLock\b[^}]*\} =/, "updateAuthProfileStoreWithLock");
  const script = path.join(path.dirname(path.dirname(gateway.entry)), "..", "make-fence.mjs");
  writeFileSync(
    script,
    [
      `let text = "";`,
      `for await (const chunk of process.stdin) text += chunk;`,
      `const { profileId, credential, state, agentDir } = JSON.parse(text);`,
      `const fences = await import(${fence.file});`,
      `const failing = await import(${failed.file});`,
      `const digests = await import(${digest.file});`,
      `const store = await import(${update.file});`,
      `let stored = credential;`,
      `if (state !== "none") stored = fences.${fence.letter}({ profileId, credential });`,
      `if (state === "failed") stored = failing.${failed.letter}(stored);`,
      `const saved = await store.${update.letter}({ agentDir: agentDir || undefined, profileId, updater: (s) => {`,
      `  s.profiles[profileId] = stored;`,
      `  return true;`,
      `} });`,
      `if (saved === null) throw new Error("updateAuthProfileStoreWithLock saved nothing");`,
      `process.stdout.write(JSON.stringify({ digest: digests.${digest.letter}({ profileId, credential: stored }) }) + "\\n");`,
    ].join("\n"),
  );
  return script;
}

/**
 * Stores `credential` under `profileId` as the gateway does, fenced as its refresh leaves it (`state`); returns the
 * gateway's refresh-generation digest of what it stored (secret-free, as the fence itself carries it).
 */
export async function gatewayFence(
  gateway: Gateway,
  stateDir: string,
  home: string,
  profileId: string,
  credential: Record<string, unknown>,
  state: "none" | "pending" | "failed",
  agentDir?: string,
): Promise<string> {
  const input = JSON.stringify({ profileId, credential, state, agentDir });
  const { stdout } = await runGateway(gateway, [], stateDir, home, fenceScript(gateway), input);
  return (JSON.parse(stdout.trim().split("\n").pop()!) as { digest: string }).digest;
}
