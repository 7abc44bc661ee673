import assert from "node:assert/strict";
import { test } from "node:test";
import { anthropicRoute } from "../../src/report/anthropic-route.js";

const MODEL = "anthropic/claude-opus-5";
const cli = { agentRuntime: { id: "claude-cli" } };
const api = { agentRuntime: { id: "openclaw" } };

test("anthropic route: the gateway's precedence, exact model first, then anthropic/*, then the provider", () => {
  const defaults = (extra: object = {}) => ({ agents: { defaults: { model: MODEL, ...extra } } });
  assert.equal(anthropicRoute({}, "main"), undefined, "no model configured: the gateway's default, not judged");
  assert.equal(anthropicRoute(defaults(), "main"), "api");
  assert.equal(anthropicRoute({ agents: { defaults: { model: "claude-cli/opus" } } }, "main"), "claude-cli");
  assert.equal(anthropicRoute({ agents: { defaults: { model: "openai/gpt-6-astra" } } }, "main"), undefined);
  assert.equal(anthropicRoute({ agents: { defaults: { model: { primary: MODEL } } } }, "main"), "api");
  assert.equal(anthropicRoute(defaults({ models: { [MODEL]: cli } }), "main"), "claude-cli");
  assert.equal(anthropicRoute(defaults({ models: { "anthropic/*": cli } }), "main"), "claude-cli");
  const provider = { models: { providers: { anthropic: { ...cli, models: [{ id: "claude-opus-5", ...api }] } } } };
  assert.equal(anthropicRoute({ ...defaults(), ...provider }, "main"), "api", "the listed model beats the provider");
  assert.equal(anthropicRoute({ ...defaults(), models: { providers: { anthropic: cli } } }, "main"), "claude-cli");
  // An agent's own entry wins over the defaults, for its model and its policy.
  const perAgent = {
    agents: { defaults: { model: MODEL, models: { [MODEL]: cli } }, entries: { work: { models: { [MODEL]: api } } } },
  };
  assert.equal(anthropicRoute(perAgent, "main"), "claude-cli");
  assert.equal(anthropicRoute(perAgent, "work"), "api");
  assert.equal(
    anthropicRoute({ agents: { defaults: { model: MODEL }, entries: { w: { model: "claude-cli/x" } } } }, "w"),
    "claude-cli",
  );
  assert.equal(anthropicRoute({ agents: "garbage", models: [1] }, "main"), undefined, "a hostile config is no route");
});
