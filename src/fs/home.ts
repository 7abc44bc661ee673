/**
 * A leading `~` in a configured path (alone, or before a slash or a backslash) is `home`, as the gateway expands
 * it (`expandHomePrefix`); `~user`, a `~` elsewhere, and any `~` when there is no home are left as they are.
 */
export function expandHome(p: string, home: string): string {
  return home ? p.replace(/^~(?=$|[\\/])/, () => home) : p;
}
