import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { installFakeClaude } from "../helpers/daemon.js";
import { fakeBin } from "../helpers/fake-bin.js";
import { leakedTokens, makeHome, randomToken, runCli, type TestHome } from "../helpers/env.js";
import { entriesConfig, writeStateDb } from "../helpers/sqlite-store.js";

const ACTIVE = `printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nMainPID=42\\nUnitFileState=enabled\\n'`;

/** A healthy host: claude logged in, a synced login, an active user unit. */
async function healthy(): Promise<{ t: TestHome; control: string }> {
  const t = makeHome();
  const control = installFakeClaude(t);
  t.writeCredentials();
  const bin = fakeBin(t.root, { systemctl: ACTIVE });
  t.env.PATH = `${bin.dir}:${t.env.PATH}`;
  assert.equal((await runCli(["sync"], t.env)).code, 0);
  return { t, control };
}

interface Doctor {
  code: number;
  checks: Array<{ name: string; status: string; detail: string; fix?: string }>;
  text: string;
}

async function doctor(t: TestHome): Promise<Doctor> {
  const json = await runCli(["doctor", "--json"], t.env);
  const text = await runCli(["doctor"], t.env);
  assert.equal(json.code, text.code);
  assert.deepEqual(leakedTokens(json.stdout + text.stdout + text.stderr, t.planted), []);
  return { code: json.code, checks: JSON.parse(json.stdout).checks, text: text.stdout };
}

function check(d: Doctor, name: string) {
  const c = d.checks.find((x) => x.name === name);
  assert.ok(c, `no check ${name}: ${d.text}`);
  return c;
}

test("doctor on a healthy host: every check ok, exit 0", async () => {
  const { t } = await healthy();
  try {
    const d = await doctor(t);
    assert.equal(d.code, 0, d.text);
    assert.deepEqual(
      d.checks.filter((c) => c.status !== "ok"),
      [],
    );
    assert.match(check(d, "claude").detail, /version 2\.1\.328/);
    assert.match(d.text, /^ok {4}service/m);
  } finally {
    t.cleanup();
  }
});

test("doctor: claude missing, not logged in, an unreadable source", async () => {
  const { t, control } = await healthy();
  try {
    writeFileSync(path.join(control, "logged-in"), "false");
    writeFileSync(path.join(t.claudeDir, ".credentials.json"), "{ truncated");
    let d = await doctor(t);
    assert.equal(d.code, 1);
    assert.equal(check(d, "claude login").status, "fail");
    assert.match(check(d, "claude login").fix!, /^claude/);
    assert.equal(check(d, "source").status, "fail");
    assert.match(check(d, "source").detail, /not valid JSON/);
    t.env.PATH = t.env
      .PATH!.split(":")
      .filter((dir) => dir !== path.join(t.root, "bin"))
      .join(":");
    d = await doctor(t);
    assert.equal(check(d, "claude").status, "fail");
    assert.match(check(d, "claude").fix!, /npm install -g @anthropic-ai\/claude-code, or set "claudePath"/);
  } finally {
    t.cleanup();
  }
});

test("doctor: loose permissions fail with the chmod that fixes them", async () => {
  const { t } = await healthy();
  try {
    chmodSync(t.storePath("main"), 0o644);
    const d = await doctor(t);
    assert.equal(d.code, 1);
    assert.equal(check(d, "permissions").fix, `chmod 600 ${t.storePath("main")}`);
  } finally {
    t.cleanup();
  }
});

test("doctor: an ambiguous state dir warns; no state dir fails", async () => {
  const { t } = await healthy();
  try {
    mkdirSync(path.join(t.home, ".clawdbot"));
    let d = await doctor(t);
    assert.equal(check(d, "state dir").status, "warn");
    assert.match(check(d, "state dir").detail, /also exists: .*\.clawdbot/);
    assert.match(check(d, "state dir").fix!, /"stateDir"/);
    const empty = makeHome();
    try {
      const bare = { ...t.env, HOME: path.join(empty.root, "nohome") };
      mkdirSync(bare.HOME, { recursive: true });
      d = await doctor({ ...t, env: bare });
      assert.equal(check(d, "state dir").status, "fail");
    } finally {
      empty.cleanup();
    }
  } finally {
    t.cleanup();
  }
});

test("doctor: a stateDir that holds no gateway fails; its fix names the one beside it, never that dir", async () => {
  const { t } = await healthy();
  try {
    const config = path.join(t.env.XDG_CONFIG_HOME!, "moltbot-auth-sync", "config.json");
    mkdirSync(path.dirname(config), { recursive: true });
    writeFileSync(config, JSON.stringify({ stateDir: t.claudeDir }));
    const d = await doctor(t);
    assert.equal(d.code, 1, d.text);
    const c = check(d, "state dir");
    assert.equal(c.status, "fail");
    assert.match(c.detail, new RegExp(`^state dir ${t.claudeDir} holds no gateway yet \\(`));
    assert.equal(c.fix, `moltbot-auth-sync --state-dir ${t.stateDir} doctor, then set stateDir in the config`);
    assert.ok(!d.text.includes(JSON.stringify(t.claudeDir)), d.text);
  } finally {
    t.cleanup();
  }
});

test("doctor: a gateway config or store order that leaves our profile out fails", async () => {
  const { t } = await healthy();
  try {
    writeFileSync(path.join(t.stateDir, "openclaw.json"), `{ auth: { order: { anthropic: ["anthropic:manual"] } } }`);
    let d = await doctor(t);
    assert.equal(check(d, "gateway order").status, "fail");
    assert.match(
      check(d, "gateway order").fix!,
      /add "anthropic:claude-cli" to auth\.order\.anthropic in .*openclaw\.json/,
    );
    writeFileSync(
      path.join(t.stateDir, "openclaw.json"),
      `{ auth: { profiles: { "anthropic:manual": { provider: "anthropic", mode: "token" } } } }`,
    );
    d = await doctor(t);
    assert.equal(check(d, "gateway profiles").status, "fail");
    writeFileSync(path.join(t.stateDir, "openclaw.json"), `{}`);
    const store = t.readStore("main");
    store.order = { anthropic: ["anthropic:manual"] };
    t.writeStore("main", store);
    d = await doctor(t);
    assert.match(
      d.checks.find((c) => c.name === "gateway order" && c.status === "fail")!.detail,
      /agent main: order\.anthropic/,
    );
  } finally {
    t.cleanup();
  }
});

test("doctor: a SQLite-era store names each database's schema; one it cannot read fails, naming ours", async () => {
  const { t } = await healthy();
  try {
    writeFileSync(path.join(t.agentDir("main"), "openclaw-agent.sqlite"), "");
    const d = await doctor(t);
    assert.equal(check(d, "gateway store").status, "fail");
    const refused = "main: \\S+/openclaw-agent\\.sqlite is not an SQLite database; nothing written";
    const detail = new RegExp(`^sqlite, gateway .*; ${refused}$`);
    assert.match(check(d, "gateway store").detail, detail);
  } finally {
    t.cleanup();
  }
});

test("doctor: an installed but stopped unit fails; a missing one warns", async () => {
  const { t } = await healthy();
  try {
    let bin = fakeBin(t.root, {
      systemctl: `printf 'LoadState=loaded\\nActiveState=failed\\nSubState=failed\\nMainPID=0\\nExecMainStatus=1\\nExecMainExitTimestamp=Tue 2026-11-24 03:12:00 UTC\\n'`,
    });
    let d = await doctor(t);
    assert.equal(check(d, "service").status, "fail");
    assert.match(check(d, "service").detail, /failed.*last exit status 1 at Tue 2026-11-24 03:12:00 UTC/);
    bin = fakeBin(t.root, { systemctl: `printf 'LoadState=not-found\\nActiveState=inactive\\n'` });
    d = await doctor(t);
    assert.equal(check(d, "service").status, "warn");
    assert.equal(check(d, "service").fix, "moltbot-auth-sync service install");
    assert.ok(bin.dir);
  } finally {
    t.cleanup();
  }
});

test("doctor: a stale pid file and a stale store lock warn with their fix", async () => {
  const { t } = await healthy();
  try {
    const runtime = path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync");
    mkdirSync(runtime, { recursive: true });
    writeFileSync(path.join(runtime, "daemon.pid"), "999999\n");
    const lock = `${t.storePath("main")}.lock`;
    mkdirSync(lock);
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(lock, old, old);
    const d = await doctor(t);
    assert.match(check(d, "pid file").fix!, /^rm .*daemon\.pid/);
    assert.match(check(d, "store lock").fix!, /^rmdir .*auth-profiles\.json\.lock/);
    assert.equal(d.code, 0, "warnings alone do not fail");
  } finally {
    t.cleanup();
  }
});

test("doctor: a service manager it cannot ask is a warning with its reason and the lingering hint", async () => {
  const { t } = await healthy();
  try {
    fakeBin(t.root, { systemctl: 'echo "Failed to connect to bus: No medium found" >&2; exit 1' });
    // A daemon that runs in the foreground does not make the unknown service state ok.
    const runtime = path.join(t.env.XDG_STATE_HOME!, "moltbot-auth-sync");
    mkdirSync(runtime, { recursive: true });
    writeFileSync(path.join(runtime, "daemon.pid"), `${process.pid}\n`);
    const d = await doctor(t);
    const service = check(d, "service");
    assert.equal(service.status, "warn");
    assert.match(service.detail, /cannot ask systemd: Failed to connect to bus: No medium found/);
    assert.match(service.fix!, /loginctl enable-linger/);
    assert.match(service.fix!, /no systemd here/);
  } finally {
    t.cleanup();
  }
});

test("doctor: a SQLite-era agent on the direct API route with no usable Anthropic profile warns, one line away", async () => {
  const t = makeHome();
  try {
    installFakeClaude(t);
    t.writeCredentials();
    const old = randomToken();
    t.planted.push(old);
    // main runs anthropic/* on the API route; work runs the same model through the claude-cli runtime.
    const gatewayConfig = entriesConfig(t, ["main", "work"]) as { agents: Record<string, any> };
    gatewayConfig.agents.defaults = { model: { primary: "anthropic/claude-opus-5" } };
    gatewayConfig.agents.entries.work.models = { "anthropic/claude-opus-5": { agentRuntime: { id: "claude-cli" } } };
    writeFileSync(path.join(t.stateDir, "openclaw.json"), JSON.stringify(gatewayConfig));
    const expired = { type: "token", provider: "anthropic", token: old, expires: Date.now() - 60_000 };
    writeStateDb(t, { store: { version: 1, profiles: { "anthropic:manual": expired } } });
    const before = check(await doctor(t), "api route");
    assert.equal(before.status, "warn");
    assert.match(before.detail, /^agent main: Anthropic models run on the direct API route, .*no usable Anthropic/);
    assert.match(before.fix!, /^set "profileId": "anthropic:claude-token" in /);
    // The one config line: the login's access token becomes a token profile every agent reads.
    const configFile = path.join(t.root, "config.json");
    writeFileSync(configFile, JSON.stringify({ profileId: "anthropic:claude-token" }));
    t.env.MOLTBOT_AUTH_SYNC_CONFIG = configFile;
    assert.equal((await runCli(["sync"], t.env)).code, 0);
    const after = await doctor(t);
    assert.equal(
      after.checks.find((c) => c.name === "api route"),
      undefined,
      after.text,
    );
  } finally {
    t.cleanup();
  }
});

test(
  "doctor run by a uid with no passwd entry answers every check instead of crashing",
  {
    skip: process.getuid?.() !== 0 && "needs root to run as a uid without a passwd entry",
  },
  async () => {
    const t = makeHome();
    try {
      execFileSync("chown", ["-R", "54321:54321", t.root]);
      const r = await runCli(["doctor"], t.env, { uid: 54321, gid: 54321 });
      assert.doesNotMatch(r.stderr, /internal error/, r.stderr);
      assert.match(r.stdout, /permissions/);
    } finally {
      t.cleanup();
    }
  },
);
