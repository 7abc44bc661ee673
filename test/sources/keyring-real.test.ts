/**
 * The setup-token vault against a real Secret Service: gnome-keyring-daemon on a private D-Bus session bus, in a
 * temp home (test/helpers/keyring.ts). Linux only; there the Debian packages are required, not optional: a host
 * without them fails here, naming them (.ci/run installs them).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { KEYRING_SERVICE } from "../../src/sources/token-vault.js";
import { DaemonProcess, installFakeClaude } from "../helpers/daemon.js";
import { type RunResult, type TestHome, leakedTokens, makeHome, randomToken, runCli } from "../helpers/env.js";
import { SessionBus, processesUsing } from "../helpers/keyring.js";
import { vaultFile } from "../helpers/vault.js";

const linuxOnly = { skip: process.platform !== "linux" && "the Secret Service is Linux's keyring" };
/** The one entry token-vault.ts keeps, as @napi-rs/keyring names it: attributes service and username. */
const ENTRY = { service: KEYRING_SERVICE, username: "setup-tokens" };
const ID = "anthropic:manual";
const IN_KEYRING = `OS keyring (service ${KEYRING_SERVICE})`;

/** A temp home with a JSON-era gateway (agents main and work) and a Claude login, and a bus of its own. */
async function keyringHome(fn: (t: TestHome, bus: SessionBus, outputs: RunResult[]) => Promise<void>): Promise<void> {
  const t = makeHome();
  let bus: SessionBus | undefined;
  const outputs: RunResult[] = [];
  try {
    t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    mkdirSync(t.agentDir("work"), { recursive: true });
    bus = await SessionBus.start(t);
    await fn(t, bus, outputs);
    assert.deepEqual(leakedTokens(outputs.map((r) => r.stdout + r.stderr).join("\n"), t.planted), []);
  } finally {
    await bus?.stop();
    const left = processesUsing(t.home);
    t.cleanup();
    assert.deepEqual(left, [], "every process the test started is stopped");
  }
}

/** `token set` of a fresh token; its output is kept for the leak check. */
async function tokenSet(t: TestHome, outputs: RunResult[], env = t.env): Promise<{ token: string; r: RunResult }> {
  const token = randomToken();
  t.planted.push(token);
  const r = await runCli(["token", "set"], env, { input: `${token}\n` });
  outputs.push(r);
  return { token, r };
}

/** What the keyring holds for our entry: each item's tokens by profile id. */
async function keyringTokens(bus: SessionBus): Promise<Array<Record<string, string>>> {
  const items = await bus.items(ENTRY);
  for (const item of items) assert.equal(item.label, `keyring:${ENTRY.username}@${ENTRY.service}`);
  return items.map((item) => {
    const { tokens } = JSON.parse(item.secret) as { tokens: Record<string, { token: string }> };
    return Object.fromEntries(Object.entries(tokens).map(([id, stored]) => [id, stored.token]));
  });
}

const fileTokens = (t: TestHome): Record<string, string> | undefined =>
  existsSync(vaultFile(t))
    ? Object.fromEntries(
        Object.entries(
          (JSON.parse(readFileSync(vaultFile(t), "utf8")) as { tokens: Record<string, { token: string }> }).tokens,
        ).map(([id, stored]) => [id, stored.token]),
      )
    : undefined;

const fingerprintOf = (token: string) => `sk-ant-oat01-…${token.slice(-4)}`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The one line `token set` prints when the file keeps the token, with the reason the keyring did not. */
function assertFileLine(t: TestHome, r: RunResult, token: string, reason: string): void {
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const line = `stored ${ID} ${fingerprintOf(token)} in ${vaultFile(t)} (mode 0600, readable only by you; ${reason})`;
  assert.equal(r.stdout.split("\n")[0], line);
  assert.equal(r.stdout.split("\n").filter((l) => /keyring|0600/.test(l)).length, 1, r.stdout);
  assert.equal(statSync(vaultFile(t)).mode & 0o777, 0o600);
  assert.equal(fileTokens(t)?.[ID], token);
}

async function syncedToken(t: TestHome, outputs: RunResult[]): Promise<string> {
  const r = await runCli(["sync"], t.env);
  outputs.push(r);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const tokens = ["main", "work"].map((agent) => t.readStore(agent).profiles[ID]?.token as string);
  assert.equal(tokens[0], tokens[1]);
  return tokens[0]!;
}

test(
  "real keyring: token set stores in gnome-keyring, sync and the daemon read it, and token set again replaces it",
  linuxOnly,
  () =>
    keyringHome(async (t, bus, outputs) => {
      await bus.startKeyring({ unlock: true });
      const first = await tokenSet(t, outputs);
      assert.equal(first.r.code, 0, first.r.stdout + first.r.stderr);
      assert.equal(first.r.stdout.split("\n")[0], `stored ${ID} ${fingerprintOf(first.token)} in ${IN_KEYRING}`);
      assert.equal(first.r.stderr, "");
      // What secret-tool (libsecret, not our library) finds: one item, holding the token; no file beside it.
      assert.deepEqual(await keyringTokens(bus), [{ [ID]: first.token }]);
      assert.equal(existsSync(vaultFile(t)), false);
      const status = await runCli(["token", "status"], t.env);
      outputs.push(status);
      assert.match(status.stdout, new RegExp(`${ID}\\s+${escape(fingerprintOf(first.token))}.*${escape(IN_KEYRING)}`));
      assert.equal(await syncedToken(t, outputs), first.token);

      installFakeClaude(t);
      const d = new DaemonProcess(t);
      try {
        await d.waitForEvent("daemon.ready");
        const from = d.records.length;
        const second = await tokenSet(t, outputs);
        assert.equal(second.r.code, 0, second.r.stdout + second.r.stderr);
        assert.match(second.r.stdout, new RegExp(`the running daemon \\(pid ${d.child.pid}\\) copies it`));
        // The daemon read the keyring on its own (SIGHUP), in its own process: both agents get the new token.
        for (const agent of ["main", "work"])
          await d.waitFor((r) => r.event === "sync.written" && r.agent === agent && r.profile === ID, 30_000, from);
        assert.equal(t.readStore("main").profiles[ID].token, second.token);
        assert.equal(t.readStore("work").profiles[ID].token, second.token);
        // Replaced, not added: still one item, and the first token is nowhere in the keyring.
        assert.deepEqual(await keyringTokens(bus), [{ [ID]: second.token }]);
        assert.equal(
          (await bus.items(ENTRY)).some((item) => item.secret.includes(first.token)),
          false,
        );
      } finally {
        await d.stop();
        outputs.push({ code: 0, stdout: d.stdout, stderr: d.stderr });
      }
    }),
);

test(
  "real keyring: a locked keyring sends token set to the 0600 file in one line, and its older token never comes back",
  linuxOnly,
  () =>
    keyringHome(async (t, bus, outputs) => {
      await bus.startKeyring({ unlock: true });
      const old = await tokenSet(t, outputs);
      assert.deepEqual(await keyringTokens(bus), [{ [ID]: old.token }]);
      await bus.lockLogin();

      // No display here, so gnome-keyring's unlock prompt fails at once, as a dismissed one does.
      const locked = "the OS keyring is locked, and its unlock prompt was dismissed or could not be shown";
      const newer = await tokenSet(t, outputs);
      assertFileLine(t, newer.r, newer.token, locked);
      assert.equal(await syncedToken(t, outputs), newer.token);

      // Unlocked again (a new login): the keyring still holds the older token, and the later stored one wins.
      await bus.stopKeyring();
      await bus.startKeyring({ unlock: true });
      assert.equal(await bus.loginLocked(), false);
      assert.deepEqual(await keyringTokens(bus), [{ [ID]: old.token }]);
      assert.equal(await syncedToken(t, outputs), newer.token);

      // The next token set goes back to the keyring, and takes the file's now older copy out of it.
      const back = await tokenSet(t, outputs);
      assert.equal(back.r.code, 0, back.r.stdout + back.r.stderr);
      assert.deepEqual(back.r.stdout.split("\n").slice(0, 2), [
        `stored ${ID} ${fingerprintOf(back.token)} in ${IN_KEYRING}`,
        `removed the older ${ID} from ${vaultFile(t)}`,
      ]);
      assert.deepEqual(await keyringTokens(bus), [{ [ID]: back.token }]);
      assert.equal(fileTokens(t)?.[ID], undefined);
      assert.equal(await syncedToken(t, outputs), back.token);

      // token clear cannot reach into a locked keyring: it says so rather than claim there is nothing.
      await bus.lockLogin();
      const clear = await runCli(["token", "clear"], t.env);
      outputs.push(clear);
      assert.equal(clear.code, 1);
      assert.match(
        clear.stderr,
        new RegExp(`no stored setup-token for ${ID}; ${escape(locked)}, so a copy it holds stays: run this again`),
      );
    }),
);

test(
  "real keyring: with no keyring, token set uses the 0600 file and says why in one line; exit 1 only if nothing stores it",
  linuxOnly,
  () =>
    keyringHome(async (t, bus, outputs) => {
      // No session bus at all: no address, and no bus socket in XDG_RUNTIME_DIR (libdbus's other place).
      const noBus = { ...t.env, DBUS_SESSION_BUS_ADDRESS: undefined, XDG_RUNTIME_DIR: path.join(t.root, "empty") };
      mkdirSync(noBus.XDG_RUNTIME_DIR, { mode: 0o700 });
      const a = await tokenSet(t, outputs, noBus);
      assertFileLine(t, a.r, a.token, "no D-Bus session bus, so no OS keyring");

      // A bus with nothing serving the Secret Service on it.
      const b = await tokenSet(t, outputs);
      assertFileLine(t, b.r, b.token, "no Secret Service on the D-Bus session bus, so no OS keyring");
      assert.equal(await syncedToken(t, outputs), b.token);

      // gnome-keyring running (as D-Bus starts it for anyone who asks) but with no login keyring made yet.
      await bus.startKeyring({ unlock: false });
      const c = await tokenSet(t, outputs);
      assertFileLine(t, c.r, c.token, "the OS keyring has no default keyring to store into");
      assert.deepEqual(await keyringTokens(bus), []);
      assert.equal(await syncedToken(t, outputs), c.token);

      // Neither can store it (the file's place is taken by a folder): exit 1, the keyring's reason and the
      // file's error on one line, nothing stored.
      rmSync(vaultFile(t));
      mkdirSync(vaultFile(t));
      const d = await tokenSet(t, outputs);
      assert.equal(d.r.code, 1, d.r.stdout);
      assert.equal(d.r.stdout, "");
      assert.equal(d.r.stderr.trim().split("\n").length, 1, d.r.stderr);
      assert.match(
        d.r.stderr,
        new RegExp(
          `cannot store the token: the OS keyring has no default keyring to store into; ${escape(vaultFile(t))}: `,
        ),
      );
      assert.deepEqual(await keyringTokens(bus), []);
      assert.deepEqual(readdirSync(vaultFile(t)), []);
    }),
);
