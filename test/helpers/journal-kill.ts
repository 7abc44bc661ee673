/**
 * A process of ours that dies while it holds a store's directory lock, at a chosen point:
 *   node journal-kill.js <file> <journal> made|touched|held|exit
 * made: SIGKILL just before proper-lockfile first sets the new lock's mtime; touched: just after it did;
 * held: while the transaction runs; exit: a normal exit while holding (proper-lockfile's exit handler
 * removes the lock). Prints "dying" first; exits 3 if the point was never reached.
 */
import fs from "node:fs";
import { directoryLock } from "../../src/stores/locks/directory-lock.js";
import { withLock } from "../../src/stores/locks/lock.js";

const [file, journal, point] = process.argv.slice(2) as [string, string, string];
const die = () => {
  process.stdout.write("dying\n");
  if (point === "exit") process.exit(0);
  process.kill(process.pid, "SIGKILL");
};
const utimes = fs.utimes;
fs.utimes = ((dir: string, atime: Date, mtime: Date, done: (err: NodeJS.ErrnoException | null) => void) => {
  if (!String(dir).endsWith(".lock")) return utimes(dir, atime, mtime, done);
  if (point === "made") return die();
  utimes(dir, atime, mtime, (err) => (point === "touched" ? die() : done(err)));
}) as typeof fs.utimes;
await withLock(
  directoryLock(file, 5_000),

  async () => die(),
  journal,
);
process.exit(3);
