/**
 * A second process that holds an SQLite lock as the gateway does: `node sqlite-holder.js <file> <mode> <holdMs>`
 * with mode "exclusive" (the lifecycle lock: journal_mode=MEMORY, BEGIN EXCLUSIVE) or "immediate" (a writer's
 * BEGIN IMMEDIATE on a store database). Prints "held" once it holds the lock.
 */
import Database from "better-sqlite3";

const [file, mode, holdMs] = process.argv.slice(2);
const db = new Database(file);
db.exec(mode === "exclusive" ? "PRAGMA journal_mode = MEMORY; BEGIN EXCLUSIVE;" : "BEGIN IMMEDIATE;");
process.stdout.write("held\n");
setTimeout(() => {
  db.exec("ROLLBACK");
  db.close();
  process.exit(0);
}, Number(holdMs));
