/**
 * The run driven directly, as `sync` and the daemon drive it, over in-memory stores and a fixed clock: which
 * offers it builds, where each lands, what each login's part says, and when it does nothing at all.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import { SourceError } from "../../src/core/errors.js";
import type { Failure } from "../../src/reconcile/failure.js";
import { passReports } from "../../src/pass/pass.js";
import { type RunInput, type RunLogin, run } from "../../src/pass/run.js";
import type { SetupToken } from "../../src/types.js";
import { randomToken } from "../helpers/env.js";
import { MemoryStores } from "../helpers/memory-store.js";

const HOUR = 3_600_000;
const NOW = Date.now();
const viewOf = (profileId: string) =>
  parseConfig({ profileId, credentialType: "token", claudePath: "/nonexistent/claude" }, "test");
const login = (expiresAt = NOW + 8 * HOUR) => ({ origin: "test", accessToken: randomToken(), expiresAt });
const tokenOf = (profileId: string): SetupToken => ({ profileId, token: randomToken(), origin: "vault" });

function input(memory: MemoryStores, logins: RunLogin[], more: Partial<RunInput> = {}): RunInput {
  const agents = memory.agents(["main", "work"]);
  return {
    logins,
    setupTokens: () => Promise.resolve([]),
    gateways: () => Promise.resolve([{ agents, adapter: memory.adapter }]),
    options: { lockTimeoutMs: 1 },
    now: () => NOW,
    env: { XDG_STATE_HOME: "/nonexistent/state" },
    ...more,
  };
}

const results = (reports: ReturnType<typeof passReports>) =>
  Object.fromEntries(reports.map((r) => [`${r.agent} ${r.profile}`, r.result]));

test("run: two logins and a setup-token reach every agent, each offer once; a token under a login's id is not offered", async () => {
  const memory = new MemoryStores();
  const [a, b] = [login(), login()];
  const told: Array<[number, number]> = [];
  const done = await run(
    input(
      memory,
      [
        { config: viewOf("anthropic:a"), read: () => Promise.resolve({ login: a }) },
        { config: viewOf("anthropic:b"), read: () => Promise.resolve({ login: b }) },
      ],
      {
        setupTokens: () => Promise.resolve([tokenOf("anthropic:team"), tokenOf("anthropic:a")]),
        onProgress: (doneCount, total) => told.push([doneCount, total]),
        // A slow clock: every copy takes 3 s, past the interval at which progress is shown.
        now: (
          (t) => () =>
            (t += 3_000)
        )(NOW),
      },
    ),
  );
  assert.ok(done);
  assert.deepEqual(
    done.setupOffers.map((o) => o.profileId),
    ["anthropic:team"],
  );
  assert.deepEqual(results(passReports(done.result)), {
    "main anthropic:a": "written",
    "work anthropic:a": "written",
    "main anthropic:b": "written",
    "work anthropic:b": "written",
    "main anthropic:team": "written",
    "work anthropic:team": "written",
  });
  // Setup-tokens go with the last login only, so each is copied once.
  assert.deepEqual(
    done.logins.map((part) => part.pass.copies.map((c) => c.offer.profileId)),
    [["anthropic:a"], ["anthropic:b", "anthropic:team"]],
  );
  for (const dir of memory.stores.keys())
    assert.equal(memory.stores.get(dir)!.profiles["anthropic:a"]?.token, a.accessToken);
  // Shown while copies remain, never at the end; the total counts every copy of every offer.
  assert.deepEqual(told, [
    [1, 6],
    [2, 6],
    [3, 6],
    [4, 6],
    [5, 6],
  ]);
});

test("run: a login whose refresh failed and whose token expired is marked; the other login is left alone", async () => {
  const memory = new MemoryStores();
  const failure: Failure = { reason: "auth", needsLogin: true, message: "claude is not logged in" };
  const done = await run(
    input(memory, [
      {
        config: viewOf("anthropic:a"),
        read: () => Promise.resolve({ login: login(NOW - HOUR) }),
        refreshFailure: () => failure,
        occurrence: () => "new",
      },
      { config: viewOf("anthropic:b"), read: () => Promise.resolve({ login: login() }) },
    ]),
  );
  assert.ok(done);
  const [a, b] = done.logins;
  assert.equal(a!.refreshFailure, failure);
  assert.deepEqual(
    a!.pass.marking?.reports.map((r) => `${r.agent} ${r.profile} ${r.result}`),
    ["main anthropic:a marked", "work anthropic:a marked"],
  );
  assert.equal(b!.pass.marking, undefined);
  assert.deepEqual(done.result.marking?.reports.length, 2, "the merged run carries the marking");
});

test("run: with nothing offered the gateways step is told so, and a run it cancels reads and writes nothing more", async () => {
  const memory = new MemoryStores();
  const error = new SourceError("claude is not logged in", "not_logged_in");
  let offeredSeen: boolean | undefined;
  const done = await run(
    input(memory, [{ config: viewOf("anthropic:a"), read: () => Promise.resolve({ error }) }], {
      gateways: (_reads, offered) => {
        offeredSeen = offered;
        return Promise.resolve(undefined);
      },
    }),
  );
  assert.equal(done, undefined);
  assert.equal(offeredSeen, false);
  assert.deepEqual(memory.written, []);
});

test("run: a dry run with the login due names the refresh it would run and starts nothing", async () => {
  const memory = new MemoryStores();
  const due = login(NOW + 60_000);
  const done = await run(
    input(memory, [{ config: viewOf("anthropic:a"), read: () => Promise.resolve({ login: due }) }], {
      refresh: { dryRun: true, signal: new AbortController().signal },
      options: { lockTimeoutMs: 1, dryRun: true },
    }),
  );
  assert.ok(done);
  const part = done.logins[0]!;
  assert.match(part.refresh?.command ?? "", /^\/nonexistent\/claude /);
  assert.equal(part.refresh?.result, undefined);
  assert.equal(part.login, due);
  assert.deepEqual(memory.written, []);
});
