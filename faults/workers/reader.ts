/** Parses a store in a tight loop until `stopFile` appears: `node reader.js <file> <stopFile>`; prints `{"reads", "failures"}`. */
import { existsSync, readFileSync } from "node:fs";

const [file, stopFile] = process.argv.slice(2) as [string, string];
let reads = 0;
let failures = 0;
while (!existsSync(stopFile)) {
  for (let i = 0; i < 50; i++) {
    reads++;
    try {
      JSON.parse(readFileSync(file, "utf8"));
    } catch {
      failures++;
    }
  }
  await new Promise((r) => setImmediate(r));
}
process.stdout.write(JSON.stringify({ reads, failures }));
