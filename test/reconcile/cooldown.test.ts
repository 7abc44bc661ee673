/** The gateway config's `auth.cooldowns`, read as the gateway reads them. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_COOLDOWN_CONFIG as CFG, cooldownConfigFrom } from "../../src/reconcile/cooldown.js";

const HOUR = 3_600_000;

test("cooldownConfigFrom reads auth.cooldowns and falls back like the gateway", () => {
  assert.deepEqual(cooldownConfigFrom(undefined), CFG);
  assert.deepEqual(
    cooldownConfigFrom({
      auth: {
        cooldowns: {
          billingBackoffHours: 2,
          billingMaxHours: -1,
          failureWindowHours: 1,
          billingBackoffHoursByProvider: { anthropic: 3 },
        },
      },
    }),
    {
      billingBackoffMs: 3 * HOUR,
      billingMaxMs: CFG.billingMaxMs,
      failureWindowMs: HOUR,
    },
  );
});
