/** The daemon's V8 flags exist in this Node: v8.setFlagsFromString ignores a flag it does not know, silently. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { DAEMON_V8_FLAGS } from "../../src/daemon/heap.js";

test("heap: every flag the daemon sets is one this Node's V8 knows", () => {
  const known = execFileSync(process.execPath, ["--v8-options"], { encoding: "utf8" });
  for (const flag of DAEMON_V8_FLAGS) {
    const name = flag.replace(/=.*/, "");
    assert.ok(known.includes(`  ${name} (`), `${name} is not a V8 option of node ${process.version}`);
  }
});
