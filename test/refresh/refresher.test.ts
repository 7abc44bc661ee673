/** The refresher and the login's hard end: never due past it, never run again for a login claude said ended. */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import { Refresher } from "../../src/refresh/refresher.js";
import { readClaudeLogin } from "../../src/sources/index.js";
import type { SourceCredential } from "../../src/types.js";
import { fakeClaudeRuns, installFakeClaude } from "../helpers/daemon.js";
import { leakedTokens, randomToken, withHome } from "../helpers/env.js";

const NOW = Date.UTC(2026, 9, 20, 12);
/** A login whose token expires at `expiresAt`; these tests name the expiry every time. */
const login = (fields: Partial<SourceCredential> & Pick<SourceCredential, "expiresAt">): SourceCredential => ({
  origin: "test",
  accessToken: randomToken(),
  ...fields,
});

test("refresher: never due for a login past its end, forced or not; a file without the end is due as before", () => {
  const config = parseConfig({}, "test");
  const refresher = new Refresher(() => Promise.reject(new Error("unused")), {}, new AbortController().signal);
  const dueToken = { expiresAt: NOW + 60_000 };
  assert.equal(refresher.isDue(login({ ...dueToken, loginEndsAt: NOW }), config, NOW, false), false);
  assert.equal(refresher.isDue(login({ ...dueToken, loginEndsAt: NOW }), config, NOW, true), false);
  assert.equal(refresher.isDue(login({ ...dueToken, loginEndsAt: NOW + 1 }), config, NOW, false), true);
  assert.equal(refresher.isDue(login(dueToken), config, NOW, false), true);
});

test("refresher: after claude says the time limit, that login is never run for again; a new sign-in is", () =>
  withHome(async (t) => {
    const control = installFakeClaude(t, "timelimit");
    t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const config = parseConfig({ claudePath: path.join(t.root, "bin", "claude") }, "test");
    const signal = new AbortController().signal;
    const refresher = new Refresher(() => readClaudeLogin(config, t.env), t.env, signal);
    const before = await readClaudeLogin(config, t.env);
    assert.equal(refresher.isDue(before, config, Date.now(), false), true);
    const result = await refresher.run(before, config, false);
    assert.equal(result.outcome, "failed");
    if (result.outcome !== "failed") return;
    assert.equal(result.failure.loginEnded, true);
    assert.match(result.failure.detail!, /^Failed to authenticate: this login reached its time limit/);
    // One run: neither `claude auth status` nor anything else after it.
    assert.deepEqual(
      fakeClaudeRuns(control)
        .filter((r) => r.what === "start")
        .map((r) => r.args),
      ["mcp serve"],
    );
    const later = Date.now() + 3_600_000;
    assert.equal(refresher.isDue(before, config, later, true), false, "not after the backoff, not forced");
    assert.equal(refresher.hasEnded(before, later), true);
    t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const signedIn = await readClaudeLogin(config, t.env);
    assert.equal(refresher.isDue(signedIn, config, later, false), true, "claude auth login gave a new login");
    assert.deepEqual(leakedTokens(JSON.stringify(result), t.planted), []);
  }));
