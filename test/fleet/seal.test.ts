/** Sealed values in etcd: they open only with the key that sealed them, under the etcd key they were sealed for. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { FleetKeyError, open, parseKey, readKey, seal } from "../../src/fleet/seal.js";
import { makeHome, randomToken } from "../helpers/env.js";

const key = () => parseKey(randomBytes(32).toString("base64"), "test");

test("seal: a sealed token opens with its key under its etcd key, and holds no trace of the token", () => {
  const k = key();
  const token = randomToken();
  const sealed = seal(k, "/p/logins/anthropic:login/access", token);
  assert.equal(JSON.stringify(sealed).includes(token.slice(13, 40)), false);
  assert.equal(open([k], "/p/logins/anthropic:login/access", sealed), token);
  // Two seals of one token differ (a fresh IV each): etcd's history shows no repeat.
  assert.notEqual(seal(k, "/p/x", token).data, seal(k, "/p/x", token).data);
});

test("seal: another etcd key, another key, or an altered value does not open, each in one line", () => {
  const k = key();
  const sealed = seal(k, "/p/logins/a/access", randomToken());
  assert.throws(() => open([k], "/p/logins/b/access", sealed), /does not open with key/);
  assert.throws(() => open([key()], "/p/logins/a/access", sealed), /which this host does not hold/);
  const altered = { ...sealed, data: Buffer.from("x".repeat(40)).toString("base64") };
  assert.throws(() => open([k], "/p/logins/a/access", altered), FleetKeyError);
});

test("seal: during a rotation the old key still opens what it sealed", () => {
  const [old, fresh] = [key(), key()];
  const sealed = seal(old, "/p/k", "value");
  assert.equal(open([fresh, old], "/p/k", sealed), "value");
  assert.notEqual(old.id, fresh.id);
});

test("seal: a key file is 32 bytes as base64 or hex; anything else, or a file others may write, is refused", async () => {
  const t = makeHome();
  try {
    const hex = path.join(t.root, "hex.key");
    writeFileSync(hex, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
    assert.equal((await readKey(hex)).bytes.length, 32);
    const short = path.join(t.root, "short.key");
    writeFileSync(short, randomBytes(16).toString("base64"), { mode: 0o600 });
    await assert.rejects(readKey(short), /expected 32 random bytes as base64 or hex/);
    const open_ = path.join(t.root, "open.key");
    writeFileSync(open_, randomBytes(32).toString("base64"));
    chmodSync(open_, 0o666);
    await assert.rejects(readKey(open_), /fleet key .*open\.key/);
    await assert.rejects(readKey(path.join(t.root, "missing.key")), /fleet key .*missing\.key/);
  } finally {
    t.cleanup();
  }
});
