/**
 * Pure: which runtime an agent's Anthropic turns take in a SQLite-era gateway config, as openclaw@2026.9.6
 * documents its runtime policy (docs/gateway/config-agents/runtime-and-cli-backends.md in its package). The
 * `claude-cli` runtime uses the Claude login natively; every other runtime of an `anthropic/*` model calls the
 * API directly and needs a stored profile (a setup-token, an API key or a `token` profile), since the gateway no
 * longer reads the Claude CLI's own file.
 */

export type AnthropicRoute = "claude-cli" | "api";

type Json = Record<string, unknown>;
const object = (value: unknown): Json =>
  value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
const runtimeOf = (value: unknown): string | undefined => {
  const id = object(object(value).agentRuntime).id;
  return typeof id === "string" ? id : undefined;
};

/** `model` is a string or `{primary}`. */
function primaryModel(model: unknown): string | undefined {
  if (typeof model === "string") return model.trim() || undefined;
  const primary = object(model).primary;
  return typeof primary === "string" ? primary.trim() || undefined : undefined;
}

/**
 * The agent's Anthropic route, or undefined when its primary model is not Anthropic's or not configured (then the
 * gateway's own default applies, which we do not second-guess). Precedence as the gateway's: the exact model's
 * policy (the agent's `models`, then the defaults', then `models.providers.anthropic.models[]`), then
 * `anthropic/*`, then the provider's `agentRuntime`. Legacy `claude-cli/<model>` refs select the CLI runtime.
 */
export function anthropicRoute(gatewayConfig: unknown, agentId: string): AnthropicRoute | undefined {
  const config = object(gatewayConfig);
  const agents = object(config.agents);
  const entry = object(object(agents.entries)[agentId]);
  const defaults = object(agents.defaults);
  const model = primaryModel(entry.model) ?? primaryModel(defaults.model);
  if (!model) return undefined;
  if (model.startsWith("claude-cli/")) return "claude-cli";
  if (!model.startsWith("anthropic/")) return undefined;
  const provider = object(object(config.models).providers).anthropic;
  const providerModels = object(provider).models;
  const listed: unknown = Array.isArray(providerModels)
    ? (providerModels as unknown[]).find((m) => `anthropic/${String(object(m).id)}` === model)
    : undefined;
  const runtime =
    runtimeOf(object(entry.models)[model]) ??
    runtimeOf(object(defaults.models)[model]) ??
    runtimeOf(listed) ??
    runtimeOf(object(entry.models)["anthropic/*"]) ??
    runtimeOf(object(defaults.models)["anthropic/*"]) ??
    runtimeOf(provider);
  return runtime === "claude-cli" ? "claude-cli" : "api";
}
