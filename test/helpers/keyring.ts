/**
 * A real Secret Service for a test: a private D-Bus session bus and gnome-keyring-daemon on it, both children of
 * the test, with every file they make in the test's temp home ($XDG_DATA_HOME/keyrings, $XDG_RUNTIME_DIR), never
 * the user's keyring. The bus has no service files: nothing is started on demand (no second keyring daemon, no
 * prompter), so each process that runs is one this helper started and stops.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { RunResult, TestHome } from "./env.js";

/** What Debian's packages give: dbus-daemon and dbus-send (dbus), gnome-keyring-daemon, secret-tool. */
export const KEYRING_PACKAGES = "gnome-keyring dbus libsecret-tools";
/** The login keyring's password: only this test's throwaway keyring ever has it. */
const PASSWORD = "throwaway";
const SECRETS = "org.freedesktop.secrets";
const LOGIN = "/org/freedesktop/secrets/collection/login";

/** A program that is not installed fails the test, naming the packages: CI installs them (.ci/run). */
function missing(file: string, err: Error): Error {
  return new Error(`cannot run ${file} (${err.message}): apt-get install ${KEYRING_PACKAGES}`);
}

/** Resolves once `child` printed a line on stdout (its readiness); rejects if it fails to start or exits first. */
function firstLine(file: string, child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c.toString("utf8")));
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      if (out.includes("\n")) resolve(out.split("\n")[0]!);
    });
    child.once("error", (e) => reject(missing(file, e)));
    child.once("exit", (code) => reject(new Error(`${file} exited ${code} before it was ready: ${err}`)));
  });
}

/** Ends `child` (SIGTERM) and waits until it has exited. */
function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

export class SessionBus {
  private keyringChild: ChildProcess | undefined;

  private constructor(
    private readonly bus: ChildProcess,
    /** The test home's env with this bus in it, for the CLI, the daemon and the tools. */
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * Starts the bus and puts it in `t.env` (DBUS_SESSION_BUS_ADDRESS, and XDG_RUNTIME_DIR and XDG_DATA_HOME
   * inside the temp home, where gnome-keyring keeps its control socket and its keyring files).
   */
  static async start(t: TestHome): Promise<SessionBus> {
    const runtime = path.join(t.root, "run");
    mkdirSync(runtime, { mode: 0o700 });
    Object.assign(t.env, {
      XDG_RUNTIME_DIR: runtime,
      XDG_DATA_HOME: path.join(t.home, ".local", "share"),
      XDG_CACHE_HOME: path.join(t.home, ".cache"),
    });
    const config = path.join(t.root, "session-bus.conf");
    // A session bus as dbus-daemon's own session.conf makes one, less the service directories.
    writeFileSync(
      config,
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${path.join(runtime, "bus")}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
    );
    const bus = spawn("dbus-daemon", [`--config-file=${config}`, "--nofork", "--print-address=1"], {
      env: t.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // It prints its address once it listens.
    const address = await firstLine("dbus-daemon", bus).catch(async (err: unknown) => {
      await stopChild(bus);
      throw err;
    });
    t.env.DBUS_SESSION_BUS_ADDRESS = address;
    return new SessionBus(bus, t.env);
  }

  /**
   * Starts gnome-keyring-daemon (secrets only, in the foreground so it stays our child). `unlock` gives it the
   * login keyring's password on stdin, which makes that keyring (the default collection) on first use and unlocks
   * it; without it an existing login keyring stays locked, and a new home has no default collection at all.
   * Resolves once it owns org.freedesktop.secrets.
   */
  async startKeyring(options: { unlock: boolean }): Promise<void> {
    const args = ["--foreground", "--components=secrets", ...(options.unlock ? ["--unlock"] : [])];
    const child = spawn("gnome-keyring-daemon", args, { env: this.env, stdio: ["pipe", "ignore", "pipe"] });
    this.keyringChild = child;
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.unlock ? PASSWORD : "");
    const failed = new Promise<never>((_, reject) => {
      child.once("error", (e) => reject(missing("gnome-keyring-daemon", e)));
      child.once("exit", (code) => reject(new Error(`gnome-keyring-daemon exited ${code}: ${stderr}`)));
    });
    failed.catch(() => undefined);
    // Asked again until yes: the name is the daemon's own signal that it serves.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await Promise.race([this.call("org.freedesktop.DBus", "NameHasOwner", `string:${SECRETS}`), failed]);
      if (/boolean true/.test(r.stdout)) return;
      if (Date.now() > deadline) throw new Error(`gnome-keyring-daemon never served ${SECRETS}: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  stopKeyring(): Promise<void> {
    return stopChild(this.keyringChild);
  }

  /** Locks the login keyring as a screen lock or `secret-tool lock` does; resolves once it says it is locked. */
  async lockLogin(): Promise<void> {
    const r = await this.tool("dbus-send", [
      "--session",
      "--print-reply",
      `--dest=${SECRETS}`,
      "/org/freedesktop/secrets",
      "org.freedesktop.Secret.Service.Lock",
      `array:objpath:${LOGIN}`,
    ]);
    if (r.code !== 0) throw new Error(`Lock failed: ${r.stderr}`);
    if (!(await this.loginLocked())) throw new Error("the login keyring is not locked after Lock");
  }

  async loginLocked(): Promise<boolean> {
    const r = await this.tool("dbus-send", [
      "--session",
      "--print-reply",
      `--dest=${SECRETS}`,
      LOGIN,
      "org.freedesktop.DBus.Properties.Get",
      "string:org.freedesktop.Secret.Collection",
      "string:Locked",
    ]);
    if (r.code !== 0) throw new Error(`cannot read Locked: ${r.stderr}`);
    return /boolean true/.test(r.stdout);
  }

  private call(dest: string, method: string, ...args: string[]): Promise<RunResult> {
    return this.tool("dbus-send", [
      "--session",
      "--print-reply",
      `--dest=${dest}`,
      "/org/freedesktop/DBus",
      `org.freedesktop.DBus.${method}`,
      ...args,
    ]);
  }

  /** Runs a tool (secret-tool, dbus-send) on this bus. */
  tool(file: string, args: string[]): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(file, args, { env: this.env, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === "ENOENT") reject(missing(file, err));
        else resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      });
      child.stdin?.end();
    });
  }

  /** Every item `secret-tool search --all` finds for these attributes: its secret, as @napi-rs/keyring stored it. */
  async items(attributes: Record<string, string>): Promise<Array<{ label: string; secret: string }>> {
    const r = await this.tool("secret-tool", ["search", "--all", ...Object.entries(attributes).flat()]);
    if (r.code !== 0 && r.stdout !== "") throw new Error(`secret-tool search failed: ${r.stderr}`);
    // Each item: a "[/path]" line, then "label = …", "secret = …", dates; the attributes go to stderr.
    return r.stdout
      .split(/^\[\/.*\]$/m)
      .slice(1)
      .map((block) => ({
        label: /^label = (.*)$/m.exec(block)?.[1] ?? "",
        secret: /^secret = (.*)$/m.exec(block)?.[1] ?? "",
      }));
  }

  /** Stops the keyring daemon, then the bus, each waited for. */
  async stop(): Promise<void> {
    await this.stopKeyring();
    await stopChild(this.bus);
  }
}

/** Processes whose environment names `home` (as HOME or in a path): none should be left once a test is done. */
export function processesUsing(home: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, "utf8").includes(`HOME=${home}\0`))
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ")}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
