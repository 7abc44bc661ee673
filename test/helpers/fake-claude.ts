#!/usr/bin/env node
/**
 * A stand-in for the `claude` CLI, put first on PATH by tests. What it does is read from
 * `$HOME/.fake-claude/mode` (or a `mode` file in its CLAUDE_CONFIG_DIR, which wins) at every start, so a test
 * can change it while the daemon runs. The control
 * folder is found through HOME because the daemon gives `claude` only the variables the real CLI needs:
 *   refresh   rewrite the credentials atomically with a new token and expiresAt + 8 h
 *   window    as the real CLI: refresh only within 5 minutes of expiresAt, else exit 0 and change nothing
 *   revoked   as the real CLI when the server refuses the token: a model request (`-p`) gets a 401 and refreshes
 *             at any time; `mcp serve` sends none, so it refreshes only within 5 minutes of expiresAt
 *   nomcp     as a CLI whose `mcp serve` does not refresh: that exits 0 and changes nothing; `-p` refreshes
 *   noop      exit 0 and change nothing
 *   fail      print "OAuth token refresh failed" and exit 1
 *   hang      ignore SIGTERM and never exit
 *   slow      never exit, but die on SIGTERM
 *   ratelimit print a 429 rate_limit_error and exit 1
 *   logout    print "Not logged in · Please run /login" and exit 1 (pair with logged-in = false)
 *   timelimit as Claude Code 2.1.x past the login's end: print its "reached its time limit" line and exit 1
 *   garbage   print 1 MB of noise and exit 1
 *   twice     rewrite the credentials twice in quick succession
 *   server    as the real token endpoint behind the CLI, shared by every host of a fleet test: the folder named in
 *             `server` (control folder) records every refresh token it issued and redeemed. A refresh with a token
 *             it did not issue, or one already redeemed, fails with invalid_grant and is recorded in
 *             `violations.log` there: the logout the fleet must never cause. New tokens live `lifetime-ms` (in
 *             that folder; 8 h by default). Each run appends "<host> start|end <ms>" to its `runs.log` (`host` in the
 *             control folder).
 *   leak      exit 1 after printing secrets: a refresh token across the runner's 2,000-character tail
 *             boundary (20 characters inside), an `access_token=` value, a `refresh_token` in JSON and a
 *             bare long base64url run
 * `mcp serve`, as the real one, then serves stdin until it closes, so a run that leaves stdin open never ends.
 * `auth status --json` answers from `logged-in` in the control folder ("false" means logged out).
 * Every run appends "start <pid> <ms>" and "end <pid> <ms>" to `runs.log` there, and the
 * names of the variables it was given to `env.log`.
 */
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

const dir = path.join(process.env.HOME!, ".fake-claude");
const log = (what: string) =>
  appendFileSync(
    path.join(dir, "runs.log"),
    `${what} ${process.pid} ${Date.now()} ${process.argv.slice(2).join(" ")}\n`,
  );
const read = (name: string, fallback: string) => {
  try {
    return readFileSync(path.join(dir, name), "utf8").trim();
  } catch {
    return fallback;
  }
};
const credentials = path.join(
  process.env.CLAUDE_CONFIG_DIR ?? path.join(process.env.HOME!, ".claude"),
  ".credentials.json",
);

function rotate(lifetimeMs = 8 * 3_600_000): void {
  const current = JSON.parse(readFileSync(credentials, "utf8"));
  const accessToken = `sk-ant-oat01-${randomBytes(72).toString("base64url").slice(0, 90)}`;
  const refreshToken = `sk-ant-ort01-${randomBytes(72).toString("base64url").slice(0, 90)}`;
  appendFileSync(path.join(dir, "planted.log"), `${accessToken}\n${refreshToken}\n`);
  const server = read("server", "");
  if (server) writeFileSync(path.join(server, "issued", digest(refreshToken)), "");
  current.claudeAiOauth = {
    ...current.claudeAiOauth,
    accessToken,
    refreshToken,
    expiresAt: Date.now() + lifetimeMs,
  };
  const tmp = `${credentials}.tmp.${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, JSON.stringify(current), { mode: 0o600 });
  renameSync(tmp, credentials);
}

/**
 * Output whose last 2,000 characters begin 20 characters before the end of a refresh token, all on one line:
 * a piece too short for the long-run rule, so only scrubbing before the cut keeps it out.
 */
function leak(): void {
  const secret = (length: number, prefix = "") => {
    const token = `${prefix}${randomBytes(length).toString("base64url").slice(0, length)}`;
    appendFileSync(path.join(dir, "planted.log"), `${token}\n`);
    return token;
  };
  const cut = secret(90, "sk-ant-ort01-");
  const secrets = () => ` access_token=${secret(24)}&scope=x {"refresh_token":"${secret(28)}"} ${secret(48)} `;
  const head = secrets();
  const end = `${secrets()}OAuth token refresh failed\n`;
  const fill = ".".repeat(2_000 - 20 - head.length - end.length);
  process.stdout.write(`${"noise ".repeat(100)}\n${cut}${head}${fill}${end}`);
  process.exitCode = 1;
}

const digest = (token: string) => createHash("sha256").update(token).digest("hex");

/** The shared token endpoint (mode `server`): redeems the file's refresh token once, or refuses it. */
function redeem(): void {
  const server = read("server", "");
  const host = read("host", "?");
  const stamp = (what: string) => appendFileSync(path.join(server, "runs.log"), `${host} ${what} ${Date.now()}\n`);
  stamp("start");
  process.on("exit", () => stamp("end"));
  const refreshToken = JSON.parse(readFileSync(credentials, "utf8")).claudeAiOauth.refreshToken as string;
  const id = digest(refreshToken);
  let fresh = existsSync(path.join(server, "issued", id));
  if (fresh) {
    try {
      // Redeemed exactly once, whoever asks: the name is made or it is not.
      writeFileSync(path.join(server, "redeemed", id), host, { flag: "wx" });
    } catch {
      fresh = false;
    }
  }
  if (!fresh) {
    appendFileSync(path.join(server, "violations.log"), `${host} ${Date.now()} spent or unknown refresh token\n`);
    process.stderr.write("OAuth token refresh failed: invalid_grant (Refresh token not found or invalid)\n");
    process.exitCode = 1;
    return;
  }
  let lifetime = 8 * 3_600_000;
  try {
    lifetime = Number(readFileSync(path.join(server, "lifetime-ms"), "utf8"));
  } catch {
    // the default
  }
  rotate(lifetime);
}

const args = process.argv.slice(2);
log("start");
appendFileSync(path.join(dir, "env.log"), `${Object.keys(process.env).sort().join(" ")}\n`);
process.on("exit", () => log("end"));
if (args[0] === "auth" && args[1] === "status") {
  const loggedIn = read("logged-in", "true") !== "false";
  process.stdout.write(
    JSON.stringify({ loggedIn, authMethod: loggedIn ? "claude.ai" : "none", apiProvider: "firstParty" }),
  );
  process.exit(loggedIn ? 0 : 1);
}
if (args[0] === "--version") {
  process.stdout.write("2.1.328 (Claude Code)\n");
  process.exit(0);
}
// A `mode` file in the config dir overrides the shared one: two logins' claudes can behave differently.
const ownMode = (() => {
  try {
    return readFileSync(path.join(path.dirname(credentials), "mode"), "utf8").trim();
  } catch {
    return undefined;
  }
})();
const mode = ownMode || read("mode", "refresh");
const mcpServe = args[0] === "mcp" && args[1] === "serve";
const inWindow = () => Date.now() + 5 * 60_000 >= JSON.parse(readFileSync(credentials, "utf8")).claudeAiOauth.expiresAt;
// Reading keeps the process alive until stdin reaches end of file; then it ends once its own work is done.
if (mcpServe) process.stdin.resume();
switch (mode) {
  case "refresh":
    rotate();
    process.stdout.write("ok\n");
    break;
  case "window":
    if (inWindow()) rotate();
    if (!mcpServe) process.stdout.write("ok\n");
    break;
  case "revoked":
    if (!mcpServe || inWindow()) rotate();
    break;
  case "nomcp":
    if (!mcpServe) rotate();
    break;
  case "leak":
    leak();
    break;
  case "server":
    redeem();
    break;
  case "twice":
    rotate();
    setTimeout(rotate, 5);
    break;
  case "noop":
    process.stdout.write("ok\n");
    break;
  case "fail":
    process.stderr.write("OAuth token refresh failed: invalid_grant\n");
    process.exitCode = 1;
    break;
  case "garbage":
    process.stdout.write(randomBytes(512 * 1024).toString("hex"));
    process.exitCode = 1;
    break;
  case "ratelimit":
    process.stderr.write('API Error: 429 {"type":"error","error":{"type":"rate_limit_error"}}\n');
    process.exitCode = 1;
    break;
  case "logout":
    process.stderr.write("Not logged in · Please run /login\n");
    process.exitCode = 1;
    break;
  case "timelimit":
    process.stderr.write(
      "Failed to authenticate: this login reached its time limit and cannot be renewed. Run `claude auth login` to " +
        "sign in again, or use `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN for unattended jobs\n",
    );
    process.exitCode = 1;
    break;
  case "slow":
    setInterval(() => undefined, 1000);
    break;
  case "hang":
    process.on("SIGTERM", () => log("sigterm-ignored"));
    setInterval(() => undefined, 1000);
    break;
}
