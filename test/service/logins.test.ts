import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fakeBin } from "../helpers/fake-bin.js";
import { runCli, withHome } from "../helpers/env.js";

test("service install --system with several logins makes every login's config dir writable", () =>
  withHome(async (t) => {
    const bin = fakeBin(t.root, { systemctl: "", loginctl: "echo no", launchctl: "" });
    t.env.PATH = `${bin.dir}:${process.env.PATH}`;
    const dirs = [path.join(t.root, "claude-personal"), path.join(t.root, "claude-work")];
    for (const dir of dirs) mkdirSync(dir);
    const config = path.join(t.root, "config.json");
    const logins = [
      { claudeConfigDir: dirs[0], profileId: "anthropic:personal" },
      { claudeConfigDir: dirs[1], profileId: "anthropic:work" },
    ];
    writeFileSync(config, JSON.stringify({ logins }));
    const unitDir = path.join(t.root, "units");
    const user = os.userInfo().username;
    const args = ["--config", config, "--state-dir", t.stateDir, "service", "install", "--system", user];
    const r = await runCli([...args, "--unit-dir", unitDir], t.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const dropIn = readFileSync(path.join(unitDir, `moltbot-auth-sync@${user}.service.d`, "paths.conf"), "utf8");
    for (const dir of dirs) assert.ok(dropIn.includes(`"-${dir}"`), dropIn);
  }));
