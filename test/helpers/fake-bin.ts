/** Fake system commands (systemctl, launchctl, loginctl, …) on PATH that record each call. */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface FakeBin {
  dir: string;
  calls(): string[];
}

/**
 * `scripts` maps a command name to the shell body run after the call is recorded; the default body exits 0.
 * Every call is appended to `calls.log` as one line: the command and its arguments.
 */
export function fakeBin(root: string, scripts: Record<string, string>): FakeBin {
  const dir = path.join(root, "fake-bin");
  mkdirSync(dir, { recursive: true });
  const log = path.join(dir, "calls.log");
  for (const [name, body] of Object.entries(scripts)) {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> "${log}"\n${body || "exit 0"}\n`);
    chmodSync(file, 0o755);
  }
  return {
    dir,
    calls: () => {
      try {
        return readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}
