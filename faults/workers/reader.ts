/**
 * Parses a store in a tight loop until `stopFile` appears: `node reader.js <format> <file> <stopFile>`, the file
 * being `auth-profiles.json`, or for sqlite the state database whose `authProfiles.store` cell is parsed;
 * prints `{"reads", "failures"}`.
 */
import { existsSync, readFileSync } from "node:fs";
import Database from "better-sqlite3";

const [format, file, stopFile] = process.argv.slice(2) as [string, string, string];
let read = () => readFileSync(file, "utf8");
if (format === "sqlite") {
  const db = new Database(file, { readonly: true, timeout: 5_000 });
  const row = db.prepare("SELECT value_json AS json FROM config_machine_state WHERE state_key = 'authProfiles.store'");
  read = () => (row.get() as { json: string }).json;
}
let reads = 0;
let failures = 0;
while (!existsSync(stopFile)) {
  for (let i = 0; i < 50; i++) {
    reads++;
    try {
      JSON.parse(read());
    } catch {
      failures++;
    }
  }
  await new Promise((r) => setImmediate(r));
}
process.stdout.write(JSON.stringify({ reads, failures }));
