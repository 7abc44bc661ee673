/**
 * Another user's service (`service install --system USER` as root): `claude` is looked up where that user's own
 * installs put it, never on our PATH, whose `claude` (root's, often under /root) is not theirs.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import { claudeNotes, hostFacts } from "../../src/service/host.js";

function fakeClaude(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "claude");
  writeFileSync(file, "#!/bin/sh\nexit 0\n");
  chmodSync(file, 0o755);
  return file;
}

test("hostFacts for another user: their own claude, and ours named but never in their unit", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "mas-host-"));
  try {
    const config = parseConfig({}, "test");
    const ours = fakeClaude(path.join(root, "our-bin"));
    const env = { PATH: `${path.dirname(ours)}:/usr/bin:/bin` };
    const alice = { name: "alice", uid: (process.getuid?.() ?? 0) + 4242, home: path.join(root, "alice") };
    mkdirSync(alice.home);

    // Nothing of alice's: no claude for her unit, and one line for each of ours and hers.
    let host = hostFacts(config, env, alice);
    assert.equal(host.claude, undefined);
    assert.ok(!host.path.split(":").includes(path.dirname(ours)), host.path);
    const notes = claudeNotes(config, host, alice);
    assert.deepEqual(notes[0], `note: ${ours}, on this shell's PATH, is not alice's: not used`);
    assert.match(notes[1]!, /^warning: `claude` is not in alice's ~\/\.local\/bin, ~\/\.claude\/local, /);

    // Claude Code's own installer puts it in ~/.local/bin: that one is hers.
    const hers = fakeClaude(path.join(alice.home, ".local", "bin"));
    host = hostFacts(config, env, alice);
    assert.equal(host.claude, hers);
    assert.equal(host.path.split(":")[0], path.dirname(hers));
    assert.deepEqual(claudeNotes(config, host, alice), [
      `note: ${ours}, on this shell's PATH, is not alice's: not used`,
    ]);

    // Our own service: our PATH, as before.
    const me = { name: "me", uid: process.getuid?.() ?? 0, home: root };
    assert.equal(hostFacts(config, env, me).claude, ours);
    assert.deepEqual(claudeNotes(config, hostFacts(config, env, me), me), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
