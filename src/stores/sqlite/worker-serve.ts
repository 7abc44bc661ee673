/**
 * The child's side of worker-client.ts: runs the named operations it is sent, one at a time, and replies with
 * the value or the error in one line. Ends itself when its parent goes.
 */
import { messageOf, StoreError } from "../../core/errors.js";
import { sqliteCode } from "./driver.js";
import type { WireError, WireReply } from "./worker-client.js";

export type Operations = Record<string, (args: never) => unknown>;

const wireError = (err: unknown): WireError => ({
  message: messageOf(err).split("\n")[0]!,
  ...(sqliteCode(err) ? { code: sqliteCode(err) } : {}),
  ...(err instanceof StoreError ? { problem: err.problem } : {}),
});

/** `end` runs when the parent goes, before this process exits (the SQLite child closes its connections). */
export function serve(operations: Operations, end?: () => void): void {
  process.on("disconnect", () => {
    try {
      end?.();
    } finally {
      process.exit(0);
    }
  });
  process.on("message", (message: { id: number; op: string; args: never }) => {
    let reply: WireReply;
    try {
      const run = Object.hasOwn(operations, message.op) ? operations[message.op] : undefined;
      if (!run) throw new Error(`unknown SQLite operation ${message.op}`);
      reply = { id: message.id, value: run(message.args) };
    } catch (err) {
      reply = { id: message.id, error: wireError(err) };
    }
    process.send!(reply);
  });
}
