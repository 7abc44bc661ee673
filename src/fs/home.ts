/** `~` and `~/…` in a configured path, as a shell would expand them for `home`. */
import path from "node:path";

export function expandHome(p: string, home: string): string {
  return p === "~" ? home : p.startsWith("~/") ? path.join(home, p.slice(2)) : p;
}
