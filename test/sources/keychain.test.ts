import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import { SourceError } from "../../src/core/errors.js";
import { readClaudeLogin } from "../../src/sources/index.js";
import {
  type KeychainBackend,
  keychainAccount,
  keychainService,
  readKeychainLogin,
  securityCliBackend,
} from "../../src/sources/keychain.js";
import { randomToken, withHome } from "../helpers/env.js";

const login = (accessToken: string, expiresAt: number) =>
  JSON.stringify({
    claudeAiOauth: { accessToken, refreshToken: randomToken("ort"), expiresAt, scopes: ["user:inference"] },
  });
/** An expiry a real login has: within hours, not years. */
const SOON = Date.now() + 3_600_000;
const fake = (items: Array<{ account: string; password: string }>): KeychainBackend => ({
  name: "fake",
  find: async () => items,
});
const failing = (message: string): KeychainBackend => ({
  name: "fake",
  find: async () => {
    throw new Error(message);
  },
});

test("keychain: the item is found by account, and a wrong-account item is ignored", async () => {
  const token = randomToken();
  const env = { USER: "alice" };
  const backend = fake([
    { account: "unknown", password: JSON.stringify({ mcpOAuth: { x: 1 } }) },
    { account: "alice", password: login(token, SOON) },
  ]);
  const cred = await readKeychainLogin(backend, env);
  assert.equal(cred.accessToken, token);
  assert.match(cred.origin, /keychain "Claude Code-credentials" \(account alice\)/);
  const bob = fake([{ account: "bob", password: login(token, SOON) }]);
  await assert.rejects(readKeychainLogin(bob, env), (err: Error) => {
    return (
      err instanceof SourceError &&
      err.problem === "not_logged_in" &&
      /only accounts bob/.test(err.message) &&
      !err.message.includes(token.slice(13))
    );
  });
});

test("keychain: service and account names follow the CLI", () => {
  assert.equal(keychainService({}), "Claude Code-credentials");
  const dir = "/home/alice/.claude-work";
  assert.equal(
    keychainService({ CLAUDE_CONFIG_DIR: dir }),
    `Claude Code-credentials-${createHash("sha256").update(dir).digest("hex").slice(0, 8)}`,
  );
  assert.equal(keychainAccount({ USER: "alice" }), "alice");
  assert.equal(keychainAccount({ USER: "al ice" }), "claude-code-user");
});

test("keychain: a locked Keychain is keychain.unavailable with the remedy", async () => {
  await assert.rejects(
    readKeychainLogin(failing("User interaction is not allowed."), { USER: "alice" }),
    (err: Error) => {
      return (
        err instanceof SourceError &&
        err.code === "keychain.unavailable" &&
        /security unlock-keychain/.test(err.message) &&
        /Always Allow/.test(err.message) &&
        /token set/.test(err.message)
      );
    },
  );
});

function fakeSecurity(dir: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "security");
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test("keychain: the `security` fallback reads the item for our account", () =>
  withHome(async (t) => {
    const token = randomToken();
    writeFileSync(path.join(t.root, "item.json"), login(token, SOON));
    const security = fakeSecurity(
      path.join(t.root, "bin"),
      `[ "$1 $2 $3 $4 $5 $6" = "find-generic-password -s Claude Code-credentials -a alice -w" ] && exec cat "${t.root}/item.json"\nexit 44`,
    );
    assert.equal((await readKeychainLogin(securityCliBackend(security), { USER: "alice" })).accessToken, token);
    await assert.rejects(
      readKeychainLogin(securityCliBackend(security), { USER: "bob" }),
      (err: Error) => err instanceof SourceError && err.problem === "not_logged_in",
    );
    const locked = fakeSecurity(
      path.join(t.root, "bin2"),
      'echo "security: SecKeychainSearchCopyNext: User interaction is not allowed." >&2; exit 36',
    );
    await assert.rejects(
      readKeychainLogin(securityCliBackend(locked), { USER: "alice" }),
      /keychain unavailable.*exit 36: security: SecKeychainSearchCopyNext: User interaction is not allowed/i,
    );
  }));

test("keychain: a hanging `security` is killed at its timeout", () =>
  withHome(async (t) => {
    const hang = fakeSecurity(path.join(t.root, "bin"), "exec sleep 60");
    const started = Date.now();
    await assert.rejects(
      readKeychainLogin(securityCliBackend(hang), { USER: "alice" }),
      (err: Error) =>
        err instanceof SourceError && err.code === "keychain.unavailable" && /timed out after 5 s/.test(err.message),
    );
    assert.ok(Date.now() - started < 15_000);
  }));

test("source auto on macOS: Keychain and file are both read and the fresher wins; a locked Keychain falls back to the file", () =>
  withHome(async (t) => {
    const config = parseConfig({}, "t");
    const env = { ...t.env, USER: "alice" };
    const file = t.writeCredentials({ expiresAt: SOON });
    const newer = randomToken();
    const darwin = (backend: KeychainBackend) => ({ platform: "darwin" as const, keychain: async () => backend });
    assert.equal(
      (
        await readClaudeLogin(
          config,
          env,
          darwin(fake([{ account: "alice", password: login(newer, Date.now() + 7_200_000) }])),
        )
      ).accessToken,
      newer,
    );
    const older = randomToken();
    assert.equal(
      (
        await readClaudeLogin(
          config,
          env,
          darwin(fake([{ account: "alice", password: login(older, Date.now() + 60_000) }])),
        )
      ).accessToken,
      file.accessToken,
    );
    assert.equal((await readClaudeLogin(config, env, darwin(failing("locked")))).accessToken, file.accessToken);
    assert.equal(
      (await readClaudeLogin(config, env, { platform: "linux", keychain: async () => failing("never asked") }))
        .accessToken,
      file.accessToken,
      "Linux reads only the file",
    );
    const keychainOnly = parseConfig({ source: "keychain" }, "t");
    await assert.rejects(
      readClaudeLogin(keychainOnly, env, darwin(failing("locked"))),
      (err: Error) => (err as SourceError).code === "keychain.unavailable",
    );
  }));

test("an expiresAt more than 400 days ahead is invalid input, in the Keychain item as in the file", () =>
  withHome(async (t) => {
    const text = (expiresAt: number) => JSON.stringify({ claudeAiOauth: { accessToken: randomToken(), expiresAt } });
    const file = path.join(t.claudeDir, ".credentials.json");
    for (const expiresAt of [9e15, Date.now() + 401 * 86_400_000]) {
      writeFileSync(file, text(expiresAt));
      const invalid = (err: Error) =>
        err instanceof SourceError && err.problem === "invalid" && /400 days ahead/.test(err.message);
      await assert.rejects(readClaudeLogin(parseConfig({ source: "file" }, "test"), t.env), invalid);
      const item = [{ account: "alice", password: text(expiresAt) }];
      await assert.rejects(readKeychainLogin(fake(item), { USER: "alice" }), invalid);
    }
    writeFileSync(file, text(Date.now() + 399 * 86_400_000));
    assert.ok(await readClaudeLogin(parseConfig({ source: "file" }, "test"), t.env), "399 days ahead is still a login");
  }));

test("keychain: each login reads the item of its own config dir, the one claude run with it writes", async () => {
  const dirs = ["/home/alice/.claude-personal", "/home/alice/.claude-work"];
  const tokens = dirs.map(() => randomToken());
  const asked: string[] = [];
  const backend: KeychainBackend = {
    name: "fake",
    find: async (service) => {
      asked.push(service);
      const i = dirs.findIndex((dir) => service === keychainService({ CLAUDE_CONFIG_DIR: dir }));
      return i < 0 ? [] : [{ account: "alice", password: login(tokens[i]!, SOON) }];
    },
  };
  const config = parseConfig(
    {
      source: "keychain",
      logins: [
        { claudeConfigDir: dirs[0], profileId: "anthropic:personal" },
        { claudeConfigDir: dirs[1], profileId: "anthropic:work" },
      ],
    },
    "t",
  );
  const { loginConfigs } = await import("../../src/config/logins.js");
  const deps = { platform: "darwin" as const, keychain: async () => backend };
  const read = await Promise.all(loginConfigs(config).map((view) => readClaudeLogin(view, { USER: "alice" }, deps)));
  assert.deepEqual(
    read.map((r) => r.accessToken),
    tokens,
  );
  assert.ok(
    asked.every((service) => /^Claude Code-credentials-[0-9a-f]{8}$/.test(service)),
    asked.join(", "),
  );
});

test("keychain: the item's refreshTokenExpiresAt is the login's end, as in the file", async () => {
  const token = randomToken();
  const end = Date.now() + 20 * 86_400_000;
  const password = JSON.stringify({
    claudeAiOauth: { accessToken: token, expiresAt: SOON, refreshTokenExpiresAt: end, subscriptionTypeSource: "x" },
    hybridOauth: { organizationUuid: "o" },
  });
  const cred = await readKeychainLogin(fake([{ account: "alice", password }]), { USER: "alice" });
  assert.equal(cred.accessToken, token);
  assert.equal(cred.loginEndsAt, end);
});
