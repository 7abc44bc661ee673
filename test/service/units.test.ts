import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parse } from "plist";
import { renderPathsDropIn, renderUnit } from "../../src/service/units.js";
import { REPO } from "../helpers/env.js";

const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
const skip = hasAnalyze ? false : "systemd-analyze is not installed (.ci/run installs Debian's systemd)";

const values = {
  node: process.execPath,
  entry: path.join(REPO, "bin", "moltbot-auth-sync.js"),
  path: "/usr/local/bin:/usr/bin:/bin",
  home: "/home/alice",
  logDir: "/Users/alice/Library/Logs/moltbot-auth-sync",
};

function renderedDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "mas-units-"));
}

test("the user unit passes systemd-analyze verify with nothing on stderr", { skip }, async () => {
  const dir = renderedDir();
  try {
    const unit = path.join(dir, "moltbot-auth-sync.service");
    writeFileSync(unit, await renderUnit("user", values));
    const runtime = path.join(dir, "runtime");
    mkdirSync(runtime, { mode: 0o700 });
    const r = spawnSync("systemd-analyze", ["--user", "verify", "--man=no", unit], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      encoding: "utf8",
    });
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the system unit passes verify silently and its exposure is at most 2.0", { skip }, async () => {
  const dir = renderedDir();
  try {
    writeFileSync(path.join(dir, "moltbot-auth-sync@.service"), await renderUnit("system", values));
    mkdirSync(path.join(dir, "moltbot-auth-sync@alice.service.d"));
    writeFileSync(
      path.join(dir, "moltbot-auth-sync@alice.service.d", "paths.conf"),
      renderPathsDropIn(["/home/alice/.openclaw/agents", "/home/alice/.claude", "/home/alice/dir with space", "/tmp"]),
    );
    const instance = path.join(dir, "moltbot-auth-sync@alice.service");
    const verify = spawnSync("systemd-analyze", ["verify", "--man=no", instance], { encoding: "utf8" });
    assert.equal(verify.stderr, "");
    assert.equal(verify.status, 0);
    const security = execFileSync("systemd-analyze", ["security", "--offline=yes", instance], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const exposure = Number(/Overall exposure level for .*: (\d+\.\d+)/.exec(security)?.[1]);
    assert.ok(exposure <= 2.0, `exposure ${exposure}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the LaunchAgent plist parses and has the keys launchd needs, with absolute paths", async () => {
  const doc = parse(await renderUnit("launchd", { ...values, node: "/opt/node & co/bin/node" })) as Record<string, any>;
  assert.equal(doc.Label, "bot.molt.auth-sync");
  assert.ok(Array.isArray(doc.ProgramArguments) && doc.ProgramArguments.length === 3);
  for (const arg of doc.ProgramArguments.slice(0, 2)) assert.ok(path.isAbsolute(arg), arg);
  assert.equal(doc.ProgramArguments[0], "/opt/node & co/bin/node", "XML-escaped and parsed back");
  assert.equal(doc.ProgramArguments[2], "run");
  assert.equal(doc.RunAtLoad, true);
  assert.deepEqual(doc.KeepAlive, { SuccessfulExit: false });
  assert.ok(Number.isInteger(doc.ThrottleInterval) && doc.ThrottleInterval > 0);
  assert.equal(doc.ProcessType, "Background");
  assert.ok(Number.isInteger(doc.Umask));
  assert.match(doc.StandardOutPath, /^\/Users\/alice\/Library\/Logs\/moltbot-auth-sync\//);
  assert.match(doc.StandardErrorPath, /^\/Users\/alice\/Library\/Logs\/moltbot-auth-sync\//);
  assert.deepEqual(Object.keys(doc.EnvironmentVariables).sort(), ["HOME", "PATH"]);
  assert.equal(doc.EnvironmentVariables.HOME, "/home/alice");
});

test("unit values are quoted for systemd: specifiers everywhere, variables only in Exec lines", async () => {
  const unit = await renderUnit("user", { ...values, entry: "/opt/a b 100%/$x/bin.js", path: "/opt/$y/bin:/usr/bin" });
  assert.match(unit, /^ExecStart=".*" "\/opt\/a b 100%%\/\$\$x\/bin\.js" run$/m);
  assert.match(unit, /^Environment="PATH=\/opt\/\$y\/bin:\/usr\/bin"$/m, "Environment= expands no variables");
  assert.match(renderPathsDropIn(["/home/a 100%/$z"]), /^ReadWritePaths="-\/home\/a 100%%\/\$z"$/m);
});

test("a value that is not a plain absolute path is refused before anything is rendered", async () => {
  const bad = ["/opt/x\nExecStartPre=/bin/touch /tmp/pwned", "relative/bin.js", "/opt/../etc/x", "/opt//x", "/opt/x/"];
  bad.push('/opt/"q"', "/opt/back\\slash", "/opt/\u001b[2J", "/opt/\u2028x");
  for (const entry of bad) {
    const refused = /service install: entry .*; nothing was written/s;
    await assert.rejects(renderUnit("system", { ...values, entry }), refused, JSON.stringify(entry));
    assert.throws(() => renderPathsDropIn(["/home/alice/.claude", entry]), /ReadWritePaths .*; nothing was written/s);
  }
  await assert.rejects(renderUnit("user", { ...values, path: "/usr/bin:\n[Service]:/bin" }), /service install: path/);
  await assert.rejects(renderUnit("launchd", { ...values, home: "/Users/a\n</string>" }), /service install: home/);
  await assert.rejects(renderUnit("launchd", { ...values, logDir: "Logs" }), /not an absolute path/);
  const home = '/Users/it\'s <me> & "you"';
  const plist = parse(await renderUnit("launchd", { ...values, home })) as Record<string, any>;
  assert.equal(plist.EnvironmentVariables.HOME, home, "XML-escaped by the plist builder");
});

test("a plist value XML 1.0 cannot hold (U+FFFE, U+FFFF, a lone surrogate) is refused like a control character", async () => {
  for (const home of ["/Users/a\ufffe", "/Users/a\uffff", "/Users/a\ud800", "/Users/\udc00b"]) {
    await assert.rejects(
      renderUnit("launchd", { ...values, home }),
      /^AuthSyncError: service install: home .* holds U\+FFFE, U\+FFFF or a lone surrogate.*nothing was written$/,
      JSON.stringify(home),
    );
  }
  // A character outside the BMP is a surrogate pair, which XML carries.
  const home = "/Users/\u{1f600}";
  assert.equal((parse(await renderUnit("launchd", { ...values, home })) as any).EnvironmentVariables.HOME, home);
});
