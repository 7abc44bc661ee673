/**
 * What both floor copiers do before they write (floor.ts, sqlite-floor.ts): one `fs.watch` of the credentials
 * file's folder and, on each change of the login's access token, one call of `write`, never two at once (a change
 * seen during a write is read again after it). It says `daemon.ready`, as the daemon does, once watching.
 */
import { watch } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";

export const emit = (record: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(record)}\n`);

export interface FloorLogin {
  token: string;
  expires: unknown;
}

export function watchLogin(credentials: string, write: (login: FloorLogin) => Promise<void> | void): void {
  let last = "";
  let running = false;
  let again = false;
  const copy = async (): Promise<void> => {
    if (running) return void (again = true);
    running = true;
    try {
      const login = (JSON.parse(await readFile(credentials, "utf8")) as { claudeAiOauth: Record<string, unknown> })
        .claudeAiOauth;
      const token = String(login.accessToken);
      if (token === last) return;
      last = token;
      await write({ token, expires: login.expiresAt });
    } catch {
      // A half-seen file: the next event reads it again.
    } finally {
      running = false;
      if (again) {
        again = false;
        void copy();
      }
    }
  };
  watch(path.dirname(credentials), (_event, name) => {
    if (name === path.basename(credentials)) void copy();
  });
  emit({ event: "daemon.ready" });
}
