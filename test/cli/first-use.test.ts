/** What a new user stumbled on first: each a small thing, each checked through the real CLI. */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { REPO, leakedTokens, randomToken, runCli, withHome } from "../helpers/env.js";

const ID = "anthropic:claude-cli";
const MIN = 60_000;

test("--version and -V print the package's version", () =>
  withHome(async (t) => {
    const version = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")).version;
    for (const flag of ["--version", "-V"]) {
      const r = await runCli([flag], t.env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
    }
  }));

test("every subcommand's --help lists the global options", () =>
  withHome(async (t) => {
    const commands = [
      ["sync"],
      ["status"],
      ["cooldown", "clear"],
      ["token", "set"],
      ["token", "clear"],
      ["token", "status"],
      ["service", "install"],
      ["service", "uninstall"],
      ["service", "status"],
      ["logs"],
      ["doctor"],
      ["run"],
    ];
    for (const command of commands) {
      const r = await runCli([...command, "--help"], t.env);
      assert.equal(r.code, 0, `${command.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, /--config <file>/, command.join(" "));
      assert.match(r.stdout, /--state-dir <dir>/, command.join(" "));
    }
  }));

test("logs --level: its help and its error list the same levels", () =>
  withHome(async (t) => {
    const help = (await runCli(["logs", "--help"], t.env)).stdout.replace(/\s+/g, " ");
    const bad = await runCli(["logs", "--file", path.join(t.root, "x.log"), "--level", "loud"], t.env);
    assert.equal(bad.code, 1);
    const inError = /expected one of ([a-z, ]+)/.exec(bad.stderr)?.[1]?.trim();
    const inHelp = /this level and above: ([a-z, ]+)/.exec(help)?.[1]?.trim();
    assert.ok(inError && inHelp, bad.stderr + help);
    assert.equal(inError, inHelp);
    assert.equal(inError, "trace, debug, info, warn, error, fatal");
  }));

test("a --state-dir or stateDir that does not exist is refused in one line, and nothing is created", () =>
  withHome(async (t) => {
    t.writeCredentials();
    const typo = path.join(t.home, ".opencalw");
    const r = await runCli(["--state-dir", typo, "sync"], t.env);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /state dir .*\.opencalw \(from --state-dir \/ config stateDir\) is not an existing folder/);
    const config = path.join(t.root, "c.json");
    writeFileSync(config, JSON.stringify({ stateDir: typo }));
    const fromConfig = await runCli(["--config", config, "status"], t.env);
    assert.equal(fromConfig.code, 1);
    assert.match(fromConfig.stderr, /is not an existing folder/);
    assert.equal(existsSync(typo), false);
    // Under an existing state dir, an agent's folder is created as before.
    const ok = await runCli(["--state-dir", t.stateDir, "sync"], t.env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(existsSync(t.storePath("main")));
  }));

test("status: exit 2 says what expires when; cooldowns show their reason; a left-over setup-token is listed", () =>
  withHome(async (t) => {
    t.writeCredentials({ expiresAt: Date.now() + 30 * MIN });
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    const expiring = await runCli(["status"], t.env);
    assert.equal(expiring.code, 2);
    assert.match(expiring.stderr, /^moltbot-auth-sync: the Claude login sk-ant-oat01-…\S{4} expires in (29|30)m/m);
    assert.match(expiring.stderr, / \(within expiryWarning, 1h\)$/m);

    const store = t.readStore("main");
    const manual = randomToken();
    t.planted.push(manual);
    store.profiles["anthropic:manual"] = { type: "token", provider: "anthropic", token: manual };
    const cooldownUntil = Date.now() + 59.5 * MIN;
    store.usageStats = { [ID]: { cooldownUntil, errorCount: 1, failureCounts: { timeout: 1 } } };
    t.writeStore("main", store);
    const marked = await runCli(["status"], t.env);
    assert.equal(marked.code, 1);
    assert.match(marked.stdout, /anthropic:claude-cli cooldown \(timeout\) for 59m/);
    assert.match(marked.stderr, /anthropic:claude-cli is cooldown \(timeout\) in main for 59m/);
    assert.match(marked.stdout, /anthropic:manual token sk-ant-oat01-…\S{4}: static, no setup-token stored for it/);
  }));

test("cooldown clear --profile X where no agent holds X exits 1 and says so", () =>
  withHome(async (t) => {
    t.writeCredentials();
    mkdirSync(t.agentDir("work"), { recursive: true });
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    const r = await runCli(["cooldown", "clear", "--profile", "anthropic:nobody"], t.env);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /no agent holds anthropic:nobody \(looked in main, work\); nothing to clear/);
    const ours = await runCli(["cooldown", "clear"], t.env);
    assert.equal(ours.code, 0, "our own profile is held: nothing to clear is fine");
  }));

test("logs that finds nothing says where it looked and how to choose another source", () =>
  withHome(async (t) => {
    const file = path.join(t.root, "daemon.log");
    const record = { level: 30, time: Date.now(), event: "daemon.started", msg: "watching" };
    writeFileSync(file, `${JSON.stringify(record)}\n`);
    const r = await runCli(["logs", "--file", file, "--event", "refresh"], t.env);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.ok(r.stderr.startsWith(`no log lines matching the filter in ${file}; `), r.stderr);
    assert.match(r.stderr, /; choose another source with --system USER/);
  }));

test("a profile we write that the gateway's config never tries: sync exits 1 and status 2, each with the edit", () =>
  withHome(async (t) => {
    t.writeCredentials({ expiresAt: Date.now() + 6 * 60 * MIN });
    const setup = randomToken();
    t.planted.push(setup);
    assert.equal((await runCli(["token", "set", "--profile", "anthropic:setup"], t.env, { input: setup })).code, 0);
    // What the gateway's own paste-token leaves: auth.profiles naming only the token it pasted.
    const config = path.join(t.stateDir, "openclaw.json");
    const pasted = { "anthropic:manual": { provider: "anthropic", mode: "token" } };
    writeFileSync(config, JSON.stringify({ auth: { profiles: pasted } }));
    const sync = await runCli(["sync"], t.env);
    assert.equal(sync.code, 1, sync.stdout + sync.stderr);
    const lines = (sync.stdout + sync.stderr).split("\n");
    for (const [id, mode] of [
      [ID, "oauth"],
      ["anthropic:setup", "token"],
    ]) {
      const line = lines.find((l) => l.includes(`the gateway never tries ${id} in main:`));
      assert.ok(line, `${id} is named: ${sync.stdout}${sync.stderr}`);
      assert.match(line, /auth\.profiles in \S*openclaw\.json lists only anthropic:manual for anthropic\. Fix: add/);
      assert.ok(
        line.endsWith(`add "${id}": {"provider": "anthropic", "mode": "${mode}"} to auth.profiles in ${config}`),
      );
    }
    const status = await runCli(["status"], t.env);
    assert.equal(status.code, 2, status.stdout + status.stderr);
    assert.match(status.stdout, /^ {2}anthropic:setup never tried by the gateway: auth\.profiles in .*; fix: add /m);
    assert.match(status.stderr, /^moltbot-auth-sync: the gateway never tries anthropic:\S+ in main: /m);

    // The agent store's own order decides over the config's; listing both ids there, everything is tried.
    const store = t.readStore("main");
    store.order = { anthropic: [ID, "anthropic:setup", "anthropic:manual"] };
    t.writeStore("main", store);
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.equal((await runCli(["status"], t.env)).code, 0);
    const output = [sync, status].map((r) => r.stdout + r.stderr).join("");
    assert.deepEqual(leakedTokens(output, t.planted), []);
  }));
