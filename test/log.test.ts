import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger, scrubSecrets } from "../src/log/logger.js";
import { formatLogLine } from "../src/log/format.js";
import { withoutCutWord } from "../src/refresh/claude-runner.js";
import { leakedTokens, randomToken } from "./helpers/env.js";

function capture(): { stream: Writable; text: () => string } {
  let text = "";
  return {
    stream: new Writable({ write: (chunk, _e, done) => ((text += chunk.toString()), done()) }),
    text: () => text,
  };
}

test("secret fields are redacted and token-shaped text is scrubbed", () => {
  const out = capture();
  const log = createLogger({ level: "info", destination: out.stream });
  const token = randomToken();
  const refresh = randomToken("ort");
  log.info(
    {
      event: "sync.written",
      accessToken: token,
      nested: { refreshToken: refresh, token },
      output: scrubSecrets(`claude said ${token}`),
    },
    "written",
  );
  assert.deepEqual(leakedTokens(out.text(), [token, refresh]), []);
  assert.match(out.text(), /\[redacted\]/);
  assert.match(out.text(), new RegExp(`claude said sk-ant-oat01-…${token.slice(-4)}`));
});

test("--pretty lines carry time, level, event, message and fields", () => {
  assert.equal(
    formatLogLine({
      time: "2026-11-25T03:12:04.000Z",
      level: "warn",
      event: "refresh.failed",
      msg: "timed out",
      reason: "timeout",
      pid: 1,
    }),
    "2026-11-25 03:12:04  WARN   refresh.failed     timed out  reason=timeout",
  );
});

test(
  "scrubbing and cutting stay linear on a long run without a break (claude printing garbage)",
  { timeout: 5_000 },
  () => {
    // Quadratic patterns took about 20 s on this input; linear ones take milliseconds.
    const garbage = `${randomBytes(128 * 1024).toString("hex")}\n`;
    assert.equal(scrubSecrets(garbage).length < garbage.length, true);
    assert.equal(withoutCutWord(garbage), garbage, "a text that ends with a newline has no cut word");
    assert.equal(withoutCutWord(`ok\n${garbage.trim()}`), "ok\n");
  },
);
