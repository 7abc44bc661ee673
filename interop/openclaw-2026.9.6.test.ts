/**
 * The SQLite era, with the real openclaw@2026.9.6: its own `doctor --fix` turns a JSON store into SQLite.
 * Against that state dir every command of ours refuses in one line and leaves the folder byte-for-byte as it was.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { makeHome, randomToken, runCli } from "../test/helpers/env.js";
import { snapshotTree } from "../test/helpers/tree.js";
import { type Gateway, installGateway, runGateway } from "./gateway.js";

let gateway: Gateway;
before(() => {
  gateway = installGateway("2026.9.6");
});

test("openclaw@2026.9.6 after doctor --fix: sync refuses and the state dir stays byte-for-byte unchanged", { timeout: 600_000 }, async () => {
  const t = makeHome();
  try {
    t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: { "anthropic:manual": { type: "token", provider: "anthropic", token: randomToken() } } });
    await runGateway(gateway, ["doctor", "--fix", "--non-interactive"], t.stateDir, t.home);
    const before = snapshotTree(t.stateDir);
    assert.ok(Object.keys(before).some((f) => f.endsWith("openclaw.sqlite")), `doctor --fix made the SQLite store: ${Object.keys(before).join(", ")}`);
    for (const args of [["sync"], ["cooldown", "clear"]]) {
      const r = await runCli(args, t.env);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /^moltbot-auth-sync: OpenClaw 2026\.9\.6 keeps auth in SQLite .*openclaw models auth login --provider anthropic --method cli --set-default\n$/);
    }
    const doctor = await runCli(["doctor", "--json"], t.env);
    const check = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === "gateway store");
    assert.equal(check.status, "fail");
    assert.deepEqual(snapshotTree(t.stateDir), before);
  } finally {
    t.cleanup();
  }
});
