/**
 * A second process that holds the gateway's lock on a store, as the gateway would:
 * `node lock-holder.js <file> <holdMs>` prints "locked" once it holds the lock.
 */
import lockfile from "proper-lockfile";

const [file, holdMs] = process.argv.slice(2);
const release = await lockfile.lock(file!, { stale: 30_000 });
process.stdout.write("locked\n");
setTimeout(() => void release().then(() => process.exit(0)), Number(holdMs));
