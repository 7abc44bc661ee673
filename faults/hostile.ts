/**
 * Scenario 3, hostile inputs: broken credentials files and odd stores, one case each, under a daemon whose
 * schedules tick every second. The daemon must keep running, leave each store untouched or correctly
 * written, and log each distinct problem once, not on every tick.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DaemonProcess, installFakeClaude } from "../test/helpers/daemon.js";
import { makeHome, randomToken, type TestHome } from "../test/helpers/env.js";
import { type Outcome, type Row, row, runCases, sleep } from "./harness.js";

const ID = "anthropic:claude-cli";
const NAME = "3 hostile inputs";
const TICKS = { resyncCron: "* * * * * *", refreshCheckCron: "* * * * * *" };
const asRoot = process.getuid?.() === 0;

interface Case {
  name: string;
  /** Makes the hostile input; the home already holds a valid login and a store with our profile. */
  make(t: TestHome): void;
  /** The event that must appear exactly once, or undefined when the input is fine. */
  event?: string;
  /** Checks the stores afterwards; returns a problem, or undefined. */
  check?(t: TestHome, before: string): string | undefined;
  /** Run the daemon as nobody, so that a 0000 file is really unreadable. */
  unprivileged?: boolean;
}

const credentials = (t: TestHome) => path.join(t.claudeDir, ".credentials.json");
const replaceCredentials = (t: TestHome, content: string | Buffer) => writeFileSync(credentials(t), content);

const CASES: Case[] = [
  { name: "credentials empty", make: (t) => replaceCredentials(t, ""), event: "source.invalid" },
  { name: "credentials truncated", make: (t) => replaceCredentials(t, readFileSync(credentials(t), "utf8").slice(0, 40)), event: "source.invalid" },
  { name: "credentials not JSON", make: (t) => replaceCredentials(t, "this is not json\n"), event: "source.invalid" },
  { name: "credentials wrong types", make: (t) => replaceCredentials(t, JSON.stringify({ claudeAiOauth: { accessToken: 42, expiresAt: "soon" } })), event: "source.invalid" },
  { name: "credentials 10 MB of garbage", make: (t) => replaceCredentials(t, Buffer.alloc(10 * 1024 * 1024, 0x7b)), event: "source.invalid" },
  {
    name: "credentials a FIFO",
    make: (t) => {
      execFileSync("rm", ["-f", credentials(t)]);
      execFileSync("mkfifo", [credentials(t)]);
    },
    event: "source.invalid",
  },
  {
    name: "credentials a symlink loop",
    make: (t) => {
      execFileSync("rm", ["-f", credentials(t)]);
      symlinkSync(credentials(t), credentials(t));
    },
    event: "source.invalid",
  },
  { name: "credentials unreadable (0000)", make: (t) => chmodSync(credentials(t), 0o000), event: "source.invalid", unprivileged: true },
  {
    name: "credentials expiresAt in seconds",
    make: (t) => replaceCredentials(t, JSON.stringify({ claudeAiOauth: { accessToken: randomToken(), expiresAt: Math.floor(Date.now() / 1000) + 3600 } })),
    event: "source.invalid",
  },
  {
    name: "store a symlink",
    make: (t) => {
      const real = path.join(t.root, "real-store.json");
      writeFileSync(real, readFileSync(t.storePath("main")));
      execFileSync("rm", [t.storePath("main")]);
      symlinkSync(real, t.storePath("main"));
      t.writeCredentials();
    },
    check: (t) => {
      if (!lstatSync(t.storePath("main")).isSymbolicLink()) return "the symlink was replaced";
      const token = JSON.parse(readFileSync(credentials(t), "utf8")).claudeAiOauth.accessToken;
      return JSON.parse(readFileSync(path.join(t.root, "real-store.json"), "utf8")).profiles[ID]?.token === token ? undefined : "the link's target was not synced";
    },
  },
  {
    name: "store with BOM and CRLF",
    make: (t) => {
      const text = readFileSync(t.storePath("main"), "utf8").replace(/\n/g, "\r\n");
      writeFileSync(t.storePath("main"), `\uFEFF${text}`);
      t.writeCredentials();
    },
    check: (t) => {
      const text = readFileSync(t.storePath("main"), "utf8");
      const token = JSON.parse(readFileSync(credentials(t), "utf8")).claudeAiOauth.accessToken;
      return JSON.parse(text).profiles[ID]?.token === token && !text.startsWith("\uFEFF") ? undefined : "not rewritten cleanly";
    },
  },
  {
    name: "store with unknown fields",
    make: (t) => {
      const store = t.readStore("main");
      store.futureTopLevel = { nested: [1, { deep: true }] };
      store.profiles["anthropic:manual"] = { type: "token", provider: "anthropic", token: randomToken(), futureField: "kept" };
      t.writeStore("main", store);
      t.writeCredentials();
    },
    check: (t, before) => {
      const was = JSON.parse(before);
      const now = t.readStore("main");
      delete was.profiles[ID];
      delete now.profiles[ID];
      return JSON.stringify(was) === JSON.stringify(now) ? undefined : "unknown fields changed";
    },
  },
];

async function runCase(c: Case, outputs: string[], planted: string[]): Promise<Row> {
  const t = makeHome();
  try {
    installFakeClaude(t);
    const cred = t.writeCredentials();
    t.writeStore("main", { version: 1, profiles: { [ID]: { type: "token", provider: "anthropic", token: cred.accessToken, expires: cred.expiresAt } } });
    writeFileSync(path.join(t.root, "config.json"), JSON.stringify(TICKS));
    c.make(t);
    const before = readFileSync(t.storePath("main"), "utf8");
    let options = {};
    if (c.unprivileged && asRoot) {
      // Root reads a 0000 file anyway: the daemon runs as nobody over a tree nobody owns.
      mkdirSync(t.env.XDG_STATE_HOME!, { recursive: true });
      execFileSync("chown", ["-R", "65534:65534", t.root]);
      chmodSync(credentials(t), 0o000);
      options = { uid: 65534, gid: 65534 };
    }
    const d = new DaemonProcess(t, ["--config", path.join(t.root, "config.json")], options);
    try {
      await d.waitForEvent("daemon.ready", 20_000);
      await sleep(3_500);
      const alive = d.child.exitCode === null && d.child.signalCode === null;
      const count = c.event ? d.events(c.event).length : 0;
      let valid = true;
      try {
        JSON.parse(readFileSync(t.storePath("main"), "utf8").replace(/^\uFEFF/, ""));
      } catch {
        valid = false;
      }
      const problem = c.check?.(t, before);
      const ok = alive && valid && !problem && (c.event ? count === 1 : true);
      const value = [alive ? "running" : "DIED", valid ? "store valid" : "STORE INVALID", ...(c.event ? [`${c.event} ×${count}`] : []), ...(problem ? [problem] : [])].join(", ");
      return row(NAME, c.name, value, c.event ? `running, store valid, ${c.event} ×1` : "running, store correct", ok);
    } finally {
      await d.stop();
      outputs.push(d.stdout, d.stderr);
      planted.push(...t.planted);
    }
  } finally {
    t.cleanup();
  }
}

export function hostileInputs(): Promise<Outcome> {
  return runCases(CASES, runCase);
}
