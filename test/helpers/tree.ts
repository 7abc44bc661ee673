import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";

/** Every entry below `root` with its type, mode and content hash: equal snapshots mean byte-for-byte unchanged. */
export function snapshotTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      const stat = lstatSync(file);
      const rel = path.relative(root, file);
      const mode = (stat.mode & 0o7777).toString(8);
      if (stat.isDirectory()) {
        out[rel] = `dir ${mode}`;
        walk(file);
      } else if (stat.isSymbolicLink()) {
        out[rel] = `link ${readlinkSync(file)}`;
      } else {
        out[rel] = `file ${mode} ${createHash("sha256").update(readFileSync(file)).digest("hex")}`;
      }
    }
  };
  walk(root);
  return out;
}
