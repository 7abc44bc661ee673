/**
 * A stand-in for the SQLite child (src/stores/sqlite/worker.ts) with operations a test controls: one that
 * answers, one that fails, and one that never returns, as native code stuck in a hostile trigger would not.
 */
import { serve } from "../../src/stores/sqlite/worker-serve.js";

serve({
  echo: (args: unknown) => args,
  fail: () => {
    throw new Error("no such table: auth_profile_store\nsecond line");
  },
  spin: () => {
    for (;;);
  },
  pid: () => process.pid,
});
