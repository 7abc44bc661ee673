import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fakeBin } from "../helpers/fake-bin.js";
import { runCli, withHome, type TestHome } from "../helpers/env.js";

function withFakes(t: TestHome, scripts: Record<string, string>) {
  const bin = fakeBin(t.root, { systemctl: "", loginctl: "echo no", launchctl: "", ...scripts });
  t.env.PATH = `${bin.dir}:${process.env.PATH}`;
  return bin;
}

test("service install --user writes the rendered unit, reloads, enables and starts it, and warns about lingering", () =>
  withHome(async (t) => {
    const bin = withFakes(t, {});
    const r = await runCli(["service", "install", "--user"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const unit = readFileSync(path.join(t.home, ".config", "systemd", "user", "moltbot-auth-sync.service"), "utf8");
    assert.match(
      unit,
      new RegExp(`ExecStart="${process.execPath.replace(/[/.]/g, "\\$&")}" ".*/bin/moltbot-auth-sync\\.js" run`),
    );
    assert.doesNotMatch(unit, /\{\{\w+\}\}/);
    assert.deepEqual(
      bin.calls().filter((c) => c.startsWith("systemctl")),
      ["systemctl --user daemon-reload", "systemctl --user enable --now moltbot-auth-sync.service"],
    );
    assert.match(r.stdout, /sudo loginctl enable-linger/);
    assert.match(r.stdout, /`claude` is not on PATH/);
  }));

test("service install --system USER renders the template and a drop-in with exactly that user's folders", () =>
  withHome(async (t) => {
    const bin = withFakes(t, {});
    const user = os.userInfo().username;
    const unitDir = path.join(t.root, "units");
    const elsewhere = path.join(t.root, "ops-agent");
    // An agentDir outside <state>/agents/ is never made, so it counts only when it exists.
    mkdirSync(elsewhere);
    writeFileSync(
      path.join(t.stateDir, "openclaw.json"),
      JSON.stringify({ agents: { list: [{ id: "main" }, { id: "ops", agentDir: elsewhere }] } }),
    );
    const r = await runCli(
      ["--state-dir", t.stateDir, "service", "install", "--system", user, "--unit-dir", unitDir],
      t.env,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const template = readFileSync(path.join(unitDir, "moltbot-auth-sync@.service"), "utf8");
    assert.match(template, /^User=%i$/m);
    assert.match(template, /^ProtectSystem=strict$/m);
    const dropIn = readFileSync(path.join(unitDir, `moltbot-auth-sync@${user}.service.d`, "paths.conf"), "utf8");
    const home = os.userInfo().homedir;
    assert.match(dropIn, new RegExp(`^ReadWritePaths=.*"-${home}/\\.claude"`, "m"));
    assert.match(dropIn, new RegExp(`"-${t.stateDir}/agents"`));
    assert.match(dropIn, new RegExp(`"-${elsewhere}"`), "an agentDir outside <state>/agents is writable too");
    assert.match(dropIn, /\.local\/state\/moltbot-auth-sync"/);
    // The SQLite era: the shared database's folder, and the host's /tmp, where the gateway's write lock lives.
    assert.match(dropIn, new RegExp(`"-${t.stateDir}/state"`));
    assert.match(dropIn, / "-\/tmp"$/m);
    assert.match(template, /^PrivateTmp=no$/m, "a private /tmp would hide the gateway's lock folder");
    assert.deepEqual(
      bin.calls().filter((c) => c.startsWith("systemctl")),
      ["systemctl daemon-reload", `systemctl enable --now moltbot-auth-sync@${user}.service`],
    );
    const bad = await runCli(["service", "install", "--system", "no-such-user-xyz", "--unit-dir", unitDir], t.env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--system no-such-user-xyz: no such user on this host/);
  }));

test("service install --system with stateDirs: every gateway's agents folder is writable by the unit", () =>
  withHome(async (t) => {
    withFakes(t, {});
    const user = os.userInfo().username;
    const unitDir = path.join(t.root, "units");
    const other = path.join(t.root, "gw-b");
    mkdirSync(path.join(other, "agents"), { recursive: true });
    const config = path.join(t.root, "config.json");
    writeFileSync(config, JSON.stringify({ stateDirs: [t.stateDir, other] }));
    const r = await runCli(["--config", config, "service", "install", "--system", user, "--unit-dir", unitDir], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const dropIn = readFileSync(path.join(unitDir, `moltbot-auth-sync@${user}.service.d`, "paths.conf"), "utf8");
    assert.match(dropIn, new RegExp(`"-${t.stateDir}/agents"`));
    assert.match(dropIn, new RegExp(`"-${other}/agents"`));
  }));

test("service install --dry-run prints every file and command and does nothing", () =>
  withHome(async (t) => {
    const bin = withFakes(t, {});
    const r = await runCli(["service", "install", "--dry-run"], t.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dry run: nothing is written or run$/m);
    assert.match(r.stdout, /^write .*moltbot-auth-sync\.service:$/m);
    assert.match(r.stdout, /^ {4}ExecStart=/m);
    assert.match(r.stdout, /^run {3}systemctl --user daemon-reload$/m);
    assert.match(r.stdout, /^run {3}systemctl --user enable --now moltbot-auth-sync\.service$/m);
    assert.equal(existsSync(path.join(t.home, ".config", "systemd")), false);
    assert.deepEqual(
      bin.calls().filter((c) => c.startsWith("systemctl")),
      [],
    );
  }));

test("a failing systemctl shows its own message and a hint, and exits 1", () =>
  withHome(async (t) => {
    withFakes(t, { systemctl: 'echo "Failed to connect to bus: No medium found" >&2; exit 1' });
    const r = await runCli(["service", "install"], t.env);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /systemctl --user daemon-reload failed \(exit 1\): Failed to connect to bus: No medium found/,
    );
    assert.match(r.stderr, /hint: no systemd user manager is reachable.*loginctl enable-linger/);
  }));

test("service uninstall disables, removes and reloads", () =>
  withHome(async (t) => {
    const bin = withFakes(t, {});
    assert.equal((await runCli(["service", "install"], t.env)).code, 0);
    const r = await runCli(["service", "uninstall"], t.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(path.join(t.home, ".config", "systemd", "user", "moltbot-auth-sync.service")), false);
    assert.deepEqual(
      bin
        .calls()
        .filter((c) => c.startsWith("systemctl"))
        .slice(2),
      ["systemctl --user disable --now moltbot-auth-sync.service", "systemctl --user daemon-reload"],
    );
  }));

test("service status reports loaded, active, pid and last exit from systemctl show", () =>
  withHome(async (t) => {
    withFakes(t, {
      systemctl: `printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nMainPID=4242\\nExecMainStatus=0\\nExecMainExitTimestamp=\\nUnitFileState=enabled\\n'`,
    });
    const r = await runCli(["service", "status"], t.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /moltbot-auth-sync\.service enabled active \(running\), pid 4242/);
    withFakes(t, { systemctl: `printf 'LoadState=not-found\\nActiveState=inactive\\nSubState=dead\\nMainPID=0\\n'` });
    const missing = await runCli(["service", "status", "--json"], t.env);
    assert.equal(missing.code, 1);
    assert.equal(JSON.parse(missing.stdout).installed, false);
  }));

test("launchd: install writes the LaunchAgent and bootstraps and kickstarts it; uninstall boots it out", () =>
  withHome(async (t) => {
    const bin = withFakes(t, { launchctl: '[ "$1" = bootout ] && exit 3; exit 0' });
    const uid = os.userInfo().uid;
    const r = await runCli(["service", "install", "--manager", "launchd"], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const plist = path.join(t.home, "Library", "LaunchAgents", "bot.molt.auth-sync.plist");
    assert.match(readFileSync(plist, "utf8"), /<string>run<\/string>/);
    assert.ok(existsSync(path.join(t.home, "Library", "Logs", "moltbot-auth-sync")));
    assert.deepEqual(
      bin.calls().filter((c) => c.startsWith("launchctl")),
      [
        `launchctl bootout gui/${uid}/bot.molt.auth-sync`,
        `launchctl bootstrap gui/${uid} ${plist}`,
        `launchctl kickstart -k gui/${uid}/bot.molt.auth-sync`,
      ],
    );
    const status = await runCli(["service", "status", "--manager", "launchd"], t.env);
    assert.equal(status.code, 1, "a fake launchctl print has no state = running");
    const u = await runCli(["service", "uninstall", "--manager", "launchd"], t.env);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(existsSync(plist), false);
    const system = await runCli(["service", "install", "--manager", "launchd", "--system", "root"], t.env);
    assert.equal(system.code, 1);
    assert.match(system.stderr, /only a per-user LaunchAgent/);
    mkdirSync(path.join(t.root, "x"));
  }));

/** Installs a system unit for the current user with `agents` as agents.list; returns the CLI's result. */
async function installSystem(t: TestHome, agents: unknown[], unitDir: string) {
  writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify({ agents: { list: agents } }));
  const args = ["service", "install", "--system", os.userInfo().username, "--unit-dir", unitDir];
  return runCli(["--state-dir", t.stateDir, ...args], t.env);
}

test("service install --system refuses an agentDir that would add directives, naming agent and config", () =>
  withHome(async (t) => {
    const bin = withFakes(t, {});
    const unitDir = path.join(t.root, "units");
    // Folders that exist: discovery already skips an agentDir outside the state dir that does not, so these
    // reach the renderer, which must refuse them.
    const bad = ["x\nExecStartPre=/bin/touch /tmp/pwned", "x\u001b[2J", '"q"'].map((name) => path.join(t.root, name));
    for (const agentDir of bad) {
      mkdirSync(agentDir, { recursive: true });
      const r = await installSystem(t, [{ id: "main" }, { id: "evil", agentDir }], unitDir);
      assert.equal(r.code, 1, r.stdout);
      const file = path.join(t.stateDir, "openclaw.json");
      const where = `agent evil in ${file.replace(/[/.]/g, "\\$&")}: agentDir`;
      assert.match(r.stderr.trim(), new RegExp(`^moltbot-auth-sync: ${where} .*; nothing was written$`));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(existsSync(unitDir), false, "nothing written");
    }
    assert.deepEqual(
      bin.calls().filter((c) => c.startsWith("systemctl")),
      [],
    );
  }));

test("service install --system says which configured agent it leaves out, and why", () =>
  withHome(async (t) => {
    withFakes(t, {});
    const unitDir = path.join(t.root, "units");
    const missing = path.join(t.root, "nowhere", "agent");
    const r = await installSystem(t, [{ id: "main" }, { id: "ops", agentDir: missing }], unitDir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`warning: agent ops: agentDir ${missing} does not exist`));
    const dropIn = path.join(unitDir, `moltbot-auth-sync@${os.userInfo().username}.service.d`, "paths.conf");
    assert.doesNotMatch(readFileSync(dropIn, "utf8"), /nowhere/);
  }));

test("service install --system lists only folders the user owns: another owner's folder or a symlink is refused", () =>
  withHome(async (t) => {
    withFakes(t, {});
    const unitDir = path.join(t.root, "units");
    const foreign = path.join(t.root, "foreign");
    mkdirSync(foreign);
    chownSync(foreign, 65534, 65534);
    const r = await installSystem(t, [{ id: "main" }, { id: "ops", agentDir: foreign }], unitDir);
    assert.equal(r.code, 1, r.stdout);
    const owner = `is owned by (nobody \\()?uid 65534\\)?, not ${os.userInfo().username}`;
    assert.match(r.stderr, new RegExp(`agent ops in .*openclaw\\.json: agentDir ${foreign}: ${owner}`));
    const link = path.join(t.root, "etc-link");
    symlinkSync("/etc", link);
    const s = await installSystem(t, [{ id: "ops", agentDir: link }], unitDir);
    assert.match(s.stderr, /etc-link is a symlink, which systemd would follow/);
    assert.equal(existsSync(unitDir), false);
    const own = path.join(t.root, "own-agent");
    mkdirSync(own);
    const ok = await installSystem(t, [{ id: "ops", agentDir: own }], unitDir);
    assert.equal(ok.code, 0, ok.stderr);
    const dropIn = path.join(unitDir, `moltbot-auth-sync@${os.userInfo().username}.service.d`, "paths.conf");
    assert.match(readFileSync(dropIn, "utf8"), new RegExp(`"-${own}"`));
  }));

test("service install that fails after writing takes back what it wrote, and says so", () =>
  withHome(async (t) => {
    const systemctl = '[ "$2" = enable ] && { echo "Failed to enable unit: Access denied" >&2; exit 1; }; exit 0';
    const bin = withFakes(t, { systemctl });
    const unitDir = path.join(t.home, ".config", "systemd", "user");
    const r = await runCli(["service", "install"], t.env);
    assert.equal(r.code, 1);
    const calls = () => bin.calls().filter((c) => c.startsWith("systemctl"));
    const undo = ["systemctl --user disable moltbot-auth-sync.service", "systemctl --user daemon-reload"];
    assert.deepEqual(calls().slice(2), undo, "a fresh install is disabled again and forgotten");
    assert.match(
      r.stderr,
      /enable --now moltbot-auth-sync\.service failed \(exit 1\): Failed to enable unit: Access denied;/,
    );
    assert.match(r.stderr, /; removed .*\/moltbot-auth-sync\.service; ran systemctl --user daemon-reload$/m);
    assert.equal(existsSync(path.join(t.home, ".config")), false, "the folders it created are gone too");
    assert.equal(existsSync(path.join(unitDir, "moltbot-auth-sync.service")), false);
    mkdirSync(unitDir, { recursive: true });
    writeFileSync(path.join(unitDir, "moltbot-auth-sync.service"), "# the unit that worked before\n");
    const again = await runCli(["service", "install"], t.env);
    assert.equal(again.code, 1);
    assert.deepEqual(calls().slice(6), ["systemctl --user daemon-reload"], "a re-install keeps the old unit enabled");
    assert.match(again.stderr, /; restored .*moltbot-auth-sync\.service/);
    const restored = readFileSync(path.join(unitDir, "moltbot-auth-sync.service"), "utf8");
    assert.equal(restored, "# the unit that worked before\n");
  }));
