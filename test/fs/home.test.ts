/** `~` in a configured path, expanded as the gateway's `expandHomePrefix` does. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { expandHome } from "../../src/fs/home.js";

test("expandHome replaces a leading ~ alone or before a separator, and nothing else", () => {
  const home = "/home/ada";
  assert.equal(expandHome("~", home), home);
  assert.equal(expandHome("~/.openclaw", home), "/home/ada/.openclaw");
  assert.equal(expandHome("~\\agents", home), "/home/ada\\agents");
  assert.equal(expandHome("~bob/.openclaw", home), "~bob/.openclaw");
  assert.equal(expandHome("/srv/~/x", home), "/srv/~/x");
  assert.equal(expandHome("relative/~", home), "relative/~");
});

test("expandHome leaves the path as it is when there is no home", () => {
  assert.equal(expandHome("~/.openclaw", ""), "~/.openclaw");
});
