/**
 * Installable as users install it: `npm pack`, then a global install of that tarball into an empty prefix, with
 * the registry reached only for what the npm cache lacks. The installed command must run from its own copy and
 * its own dependencies, and the service it installs must point into that copy, not into this checkout.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { makeHome, REPO, type RunResult, type TestHome } from "./helpers/env.js";
import { writeStateDb as writeSqliteStateDb } from "./helpers/sqlite-store.js";

const NAME = "moltbot-auth-sync";
const VERSION = (JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;

function run(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
) {
  return new Promise<RunResult>((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** npm without the checkout's influence: no update check, no audit, and a quiet install. */
const npmEnv = {
  ...process.env,
  npm_config_update_notifier: "false",
  npm_config_audit: "false",
  npm_config_fund: "false",
};

/**
 * better-sqlite3's install script fetches a prebuilt binary (prebuild-install) and compiles from source only
 * when it cannot, which takes a minute of both cores on a CI runner without access to the binaries' host. The
 * binary this checkout's install already has is offered as that prebuilt, through prebuild-install's own
 * local-prebuilds folder: the install script still runs and unpacks it as it would a download.
 */
function localPrebuild(tmp: string): NodeJS.ProcessEnv {
  const pkg = path.join(REPO, "node_modules", "better-sqlite3");
  const binary = path.join(pkg, "build", "Release", "better_sqlite3.node");
  if (!existsSync(binary)) return {};
  const { version } = JSON.parse(readFileSync(path.join(pkg, "package.json"), "utf8")) as { version: string };
  const dir = path.join(tmp, "prebuilds");
  mkdirSync(dir);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync("tar", ["-czf", path.join(dir, name), "-C", pkg, "build/Release/better_sqlite3.node"]);
  return { npm_config_better_sqlite3_local_prebuilds: dir };
}

let tmp: string;
let tarball: string;
let packed: string[];
let prefix: string;
let installed: string;
let home: TestHome;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "mas-pack-"));
  // `npm test` has just built dist/; --ignore-scripts keeps `prepare` from rebuilding it under other tests' feet.
  const pack = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], {
    cwd: REPO,
    env: npmEnv,
  });
  assert.equal(pack.code, 0, `npm pack failed: ${pack.stderr}`);
  const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
  packed = info.files.map((f) => f.path);
  tarball = path.join(tmp, info.filename);
  prefix = path.join(tmp, "prefix");
  const install = await run(
    "npm",
    ["install", "--global", "--prefix", prefix, "--prefer-offline", path.join(tmp, info.filename)],
    { env: { ...npmEnv, ...localPrebuild(tmp) }, timeoutMs: 180_000 },
  );
  assert.equal(install.code, 0, `npm install -g of the tarball failed: ${install.stderr}`);
  installed = path.join(prefix, "lib", "node_modules", NAME);
  home = makeHome();
});

after(() => {
  home?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The installed command, in a temp HOME, with node on PATH as a user's shell has it. */
function installedCli(args: string[]): Promise<RunResult> {
  const env = { ...home.env, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` };
  return run(path.join(prefix, "bin", NAME), args, { env });
}

function filesUnder(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(REPO, path.join(d.parentPath, d.name)));
}

test("the tarball holds what a user needs, and no tests, sources, source maps or stale build output", () => {
  const needed = ["package.json", "README.md", "bin/moltbot-auth-sync.js", "dist/src/cli/main.js"];
  needed.push(...filesUnder("systemd"), ...filesUnder("launchd"), ...filesUnder("docs"));
  assert.deepEqual(
    needed.filter((file) => !packed.includes(file)),
    [],
    'missing from the tarball (package.json "files")',
  );
  const unwanted = packed.filter((file) => /^(src|test|interop|bench|faults|dist\/(?!src\/))|\.(map|ts)$/.test(file));
  assert.deepEqual(unwanted, [], "in the tarball, but no user needs it");
  // tsc never deletes: a source moved or removed leaves its old .js in dist/, which would ship.
  const stale = packed.filter(
    (file) => file.startsWith("dist/src/") && !existsSync(path.join(REPO, file.slice(5).replace(/\.js$/, ".ts"))),
  );
  assert.deepEqual(stale, [], "build output without a source: run `rm -rf dist && npm run build`");
});

test("the installed command prints its version", async () => {
  const r = await installedCli(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), VERSION);
});

test("the installed command starts, with its own dependencies, and lists its commands", async () => {
  const r = await installedCli(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  for (const command of ["sync", "status", "service", "logs", "doctor", "run"])
    assert.match(r.stdout, new RegExp(`^  ${command}\\b`, "m"));
  // The real work, from the installed copy: config, the source, the store's lock and atomic write.
  home.writeCredentials();
  const sync = await installedCli(["sync"]);
  assert.equal(sync.code, 0, sync.stderr);
  assert.match(sync.stdout, /^main\s+written/m);
  assert.equal(home.readStore("main").profiles["anthropic:claude-cli"].type, "token");
  const doctor = await installedCli(["doctor", "--json"]);
  assert.ok(doctor.code === 0 || doctor.code === 1, `doctor exited ${doctor.code}: ${doctor.stderr}`);
  assert.ok(Array.isArray((JSON.parse(doctor.stdout) as { checks: unknown[] }).checks));
});

test("service install --dry-run renders paths into the install, not into this checkout", async () => {
  const entry = path.join(installed, "bin", "moltbot-auth-sync.js");
  for (const manager of ["systemd", "launchd"]) {
    const r = await installedCli(["service", "install", "--manager", manager, "--dry-run"]);
    assert.equal(r.code, 0, `${manager}: ${r.stderr}`);
    assert.ok(r.stdout.includes(entry), `${manager}: the unit does not run ${entry}:\n${r.stdout}`);
    assert.ok(!r.stdout.includes(REPO), `${manager}: the unit points into the checkout ${REPO}:\n${r.stdout}`);
    assert.ok(r.stdout.includes(process.execPath), `${manager}: the unit does not run ${process.execPath}`);
  }
});

test("a global install from a fresh HOME where better-sqlite3 cannot build still installs and says what to run", async () => {
  // No Node headers and no prebuilt: node-gyp fails, as it did for an admin with a fresh HOME. The dependency is
  // optional, so the install goes on; the command works, and where SQLite is needed `doctor` names the fix.
  const fresh = makeHome();
  const brokenPrefix = path.join(tmp, "prefix-no-build");
  const env = {
    ...npmEnv,
    HOME: fresh.home,
    npm_config_cache: execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim(),
    npm_config_nodedir: path.join(tmp, "no-node-headers"),
    npm_config_better_sqlite3_local_prebuilds: path.join(tmp, "no-prebuilds"),
  };
  try {
    const args = ["install", "--global", "--prefix", brokenPrefix, "--prefer-offline", tarball];
    const install = await run("npm", args, { env, timeoutMs: 180_000 });
    assert.equal(install.code, 0, `the install failed: ${install.stderr}`);
    const bin = path.join(brokenPrefix, "bin", NAME);
    const shell = { ...fresh.env, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` };
    const version = await run(bin, ["--version"], { env: shell });
    assert.equal(version.stdout.trim(), VERSION, version.stderr);
    const built = path.join(brokenPrefix, "lib", "node_modules", NAME, "node_modules", "better-sqlite3", "build");
    if (process.getBuiltinModule?.("node:sqlite") === undefined) {
      assert.equal(existsSync(path.join(built, "Release", "better_sqlite3.node")), false, "the build did fail");
      mkdirSync(path.join(fresh.stateDir, "agents", "main", "agent"), { recursive: true });
      writeSqliteStateDb(fresh);
      const doctor = await run(bin, ["doctor"], { env: shell });
      const line = doctor.stdout.split("\n").find((l) => l.includes("sqlite engine")) ?? doctor.stdout;
      assert.match(
        line,
        /FAIL +sqlite engine +no SQLite engine: Node \S+ has no node:sqlite, and better-sqlite3 cannot/,
      );
      assert.ok(doctor.stdout.includes(`npm rebuild better-sqlite3`), doctor.stdout);
    }
  } finally {
    fresh.cleanup();
  }
});
