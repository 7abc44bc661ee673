/**
 * Scenario 6, secrecy: everything the project printed or wrote outside the stores and the source (every
 * scenario's logs and outputs, plus status, doctor, --json outputs, logs, the state file and error
 * messages of a home with every kind of token) is searched for any 12-character piece of a planted token.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DaemonProcess, fakeClaudeTokens, installFakeClaude } from "../test/helpers/daemon.js";
import { leakedTokens, makeHome, randomToken, runCli } from "../test/helpers/env.js";
import { type Outcome, must, row } from "./harness.js";

const NAME = "6 secrecy";

function filesBelow(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    out = statSync(file).isDirectory() ? [...out, ...filesBelow(file)] : [...out, file];
  }
  return out;
}

/** Runs every command with output against a home holding a login, setup-tokens and a failing claude. */
async function commandOutputs(): Promise<{ outputs: string[]; planted: string[] }> {
  const t = makeHome();
  const control = installFakeClaude(t, "fail");
  const outputs: string[] = [];
  try {
    t.writeCredentials({ expiresAt: Date.now() + 60_000 });
    const setup = randomToken();
    const fromEnv = randomToken();
    t.planted.push(setup, fromEnv);
    t.env.CLAUDE_CODE_OAUTH_TOKEN = fromEnv;
    const run = async (args: string[], input?: string) => {
      const r = await runCli(args, t.env, input === undefined ? {} : { input });
      outputs.push(r.stdout, r.stderr);
    };
    await run(["token", "set", "--profile", "anthropic:setup"], setup);
    await run(["token", "set"], "sk-ant-oat01-too-short");
    await run(["token", "set", setup]);
    // A token pasted into the wrong flag: the error echoes the value, scrubbed.
    await run(["token", "set", "--expires-in", setup], setup);
    const config = path.join(t.root, "config.json");
    writeFileSync(config, JSON.stringify({ logLevel: "debug" }));
    const d = new DaemonProcess(t, ["--config", config]);
    try {
      await d.waitForEvent("needs_login", 20_000);
    } finally {
      await d.stop();
    }
    outputs.push(d.stdout, d.stderr);
    const log = path.join(t.root, "daemon.log");
    writeFileSync(log, d.stdout);
    for (const args of [
      ["sync"],
      ["sync", "--json"],
      ["sync", "--dry-run"],
      ["status"],
      ["status", "--json"],
      ["doctor"],
      ["doctor", "--json"],
      ["token", "status"],
      ["token", "status", "--json"],
      ["cooldown", "clear", "--json"],
      ["logs", "--file", log],
      ["logs", "--file", log, "--json"],
      ["service", "install", "--dry-run"],
    ])
      await run(args);
    for (const file of filesBelow(t.env.XDG_STATE_HOME!)) outputs.push(readFileSync(file, "utf8"));
    return { outputs, planted: [...t.planted, ...fakeClaudeTokens(control)] };
  } finally {
    t.cleanup();
  }
}

export async function secrecy(previous: Outcome[]): Promise<Outcome> {
  const own = await commandOutputs();
  const outputs = [...previous.flatMap((o) => o.outputs), ...own.outputs];
  const planted = [...new Set([...previous.flatMap((o) => o.planted), ...own.planted])];
  const text = outputs.join("\n");
  const leaks = leakedTokens(text, planted);
  return {
    rows: [
      row(NAME, "tokens planted", planted.length),
      row(NAME, "bytes scanned", Buffer.byteLength(text)),
      must(NAME, "token substrings found", leaks.length, 0),
    ],
    outputs: [],
    planted: [],
  };
}
