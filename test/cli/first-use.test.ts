/** What a new user stumbled on first: each a small thing, each checked through the real CLI. */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { REPO, leakedTokens, randomToken, runCli, withHome } from "../helpers/env.js";
import { snapshotTree } from "../helpers/tree.js";

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
    // Under an existing state dir that holds a gateway, an agent's folder is created as before.
    writeFileSync(path.join(t.stateDir, "openclaw.json"), "{}");
    const ok = await runCli(["--state-dir", t.stateDir, "sync"], t.env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(existsSync(t.storePath("main")));
  }));

test("a --state-dir, stateDir or stateDirs entry that exists but holds no gateway is refused in one line", () =>
  withHome(async (t) => {
    t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: {} });
    // Claude Code's own folder with its subagents: an `agents` folder that is no gateway's.
    mkdirSync(path.join(t.claudeDir, "agents"));
    writeFileSync(path.join(t.claudeDir, "agents", "reviewer.md"), "---\nname: reviewer\n---\n");
    const empty = path.join(t.root, "empty");
    mkdirSync(empty);
    const config = path.join(t.root, "c.json");
    const looks = "a gateway's state dir holds openclaw.json, agents/<id>/agent or state/openclaw.sqlite";
    for (const dir of [empty, t.claudeDir, t.agentDir("main")]) {
      writeFileSync(config, JSON.stringify({ stateDir: dir }));
      const before = snapshotTree(t.root);
      for (const args of [
        ["--state-dir", dir, "sync"],
        ["--config", config, "sync"],
      ]) {
        const r = await runCli(args, t.env);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        const line = `moltbot-auth-sync: state dir ${dir} holds no gateway yet (${looks}); check the path`;
        assert.equal(r.stderr, `${line} (a volume not mounted yet?)\n`);
        assert.deepEqual(snapshotTree(t.root), before, `${args.join(" ")}: nothing made, nothing written`);
      }
    }
    // A stateDirs entry is judged by the same rule: the gateway beside it is synced, and nothing is made in it.
    writeFileSync(config, JSON.stringify({ stateDirs: [t.stateDir, t.claudeDir] }));
    const claude = snapshotTree(t.claudeDir);
    const r = await runCli(["--config", config, "sync"], t.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`state dir ${t.claudeDir} holds no gateway yet`));
    assert.deepEqual(snapshotTree(t.claudeDir), claude);
    assert.ok(t.readStore("main").profiles[ID], "the gateway beside it is synced");
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
    assert.match(marked.stderr, /anthropic:claude-cli is in cooldown \(timeout\) in main for 59m\. Fix: wait for it/);
    assert.match(
      marked.stderr,
      /or run `moltbot-auth-sync cooldown clear --profile anthropic:claude-cli` once its cause/,
    );
    assert.match(
      marked.stdout,
      /anthropic:manual token sk-ant-oat01-…\S{4}: static, not put there by moltbot-auth-sync/,
    );
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

test("token set refuses a token under its id that we did not put there, unless --replace; a pass leaves one too", () =>
  withHome(async (t) => {
    const ID_MANUAL = "anthropic:manual";
    const profile = (token: string) => ({ type: "token", provider: "anthropic", token });
    const [pasted, first, second, pastedLater] = [randomToken(), randomToken(), randomToken(), randomToken()];
    t.planted.push(pasted, first, second, pastedLater);
    // What the gateway's paste-token leaves: a token of its own under anthropic:manual.
    t.writeStore("main", { version: 1, profiles: { [ID_MANUAL]: profile(pasted) } });
    const vault = path.join(t.home, ".config", "moltbot-auth-sync", "setup-tokens.json");
    const set = (token: string, ...more: string[]) =>
      runCli(["token", "set", "--profile", ID_MANUAL, ...more], t.env, { input: token });
    const held = (id = ID_MANUAL) => (t.readStore("main").profiles[id] as { token?: string } | undefined)?.token;

    const refused = await set(first);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    const line = `anthropic:manual in main holds sk-ant-oat01-…${pasted.slice(-4)}, which moltbot-auth-sync did not put there`;
    assert.ok(refused.stderr.includes(line), refused.stderr);
    assert.match(
      refused.stderr,
      /nothing stored\. To replace it: moltbot-auth-sync token set --profile anthropic:manual --replace/,
    );
    assert.equal(existsSync(vault), false, "nothing stored");

    assert.equal((await set(first, "--replace")).code, 0);
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.equal(held(), first, "replaced once the user said so");
    // Ours from then on: storing the next one needs no --replace.
    assert.equal((await set(second)).code, 0);
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.equal(held(), second);

    // The gateway pastes another token under the id afterwards: the pass leaves it and says why.
    const store = t.readStore("main");
    store.profiles[ID_MANUAL] = profile(pastedLater);
    t.writeStore("main", store);
    const sync = await runCli(["sync"], t.env);
    assert.match(sync.stdout, /main +skipped +holds sk-ant-oat01-…\S{4}, which moltbot-auth-sync did not put there/);
    assert.equal(held(), pastedLater, "left as it is");

    // After token clear, a copy we put there is told apart from the gateway's.
    store.profiles[ID_MANUAL] = profile(second);
    store.profiles["anthropic:other"] = profile(pasted);
    t.writeStore("main", store);
    assert.equal((await runCli(["token", "clear", "--profile", ID_MANUAL], t.env)).code, 0);
    const status = await runCli(["status"], t.env);
    assert.match(
      status.stdout,
      /anthropic:manual token \S+: static, ours but no longer stored \(left after `token clear`\)/,
    );
    assert.match(status.stdout, /anthropic:other token \S+: static, not put there by moltbot-auth-sync/);
    // The next token set after the clear needs no --replace either: the book still knows the copy main holds.
    const third = randomToken();
    t.planted.push(third);
    const again = await set(third);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    assert.equal(held(), third);
    const output = [refused, sync, status, again].map((r) => r.stdout + r.stderr).join("");
    assert.deepEqual(leakedTokens(output, t.planted), []);
  }));

test("status: a stopped daemon's or an ended problem is shown as history; sync says when it cleared a marking", () =>
  withHome(async (t) => {
    const now = Date.now();
    t.writeCredentials({ expiresAt: now + 6 * 60 * MIN });
    const stale = randomToken();
    t.planted.push(stale);
    const store = {
      version: 1,
      profiles: { [ID]: { type: "token", provider: "anthropic", token: stale, expires: now + 10 * MIN } },
      usageStats: { [ID]: { cooldownUntil: now + 30 * MIN, errorCount: 1 } },
    };
    t.writeStore("main", store);
    const sync = await runCli(["sync", "--no-refresh"], t.env);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);
    assert.match(sync.stdout, /^main +written +updated; its marking cleared$/m);

    const stateFile = path.join(t.home, ".local", "state", "moltbot-auth-sync", "state.json");
    mkdirSync(path.dirname(stateFile), { recursive: true, mode: 0o700 });
    const lastError = { at: now - 10 * MIN, event: "store.locked", message: "main: the store was locked" };
    const writeState = (extra: object) =>
      writeFileSync(
        stateFile,
        JSON.stringify({ pid: 1, startedAt: now - 60 * MIN, updatedAt: now - 5 * MIN, ...extra }),
      );
    writeState({ lastError });
    const stopped = await runCli(["status"], t.env);
    assert.match(stopped.stdout, /last problem before it stopped 10m(\d+s)? ago: main: the store was locked/);
    writeState({ lastError: { ...lastError, clearedAt: now - 8 * MIN } });
    const over = await runCli(["status"], t.env);
    assert.match(
      over.stdout,
      /last problem before it stopped 10m(\d+s)? ago, over 8m(\d+s)? ago: main: the store was locked/,
    );
  }));
