/**
 * The only form in which a token may appear in output: its public prefix and last four characters,
 * e.g. `sk-ant-oat01-…9f3a`. Short or unknown values show no characters at all.
 */
const KNOWN_PREFIX = /^(sk-ant-[a-z]{3}\d{2}-)/;

export function fingerprint(token: string | undefined | null): string {
  if (!token) return "(none)";
  const prefix = KNOWN_PREFIX.exec(token)?.[1] ?? "";
  if (token.length < prefix.length + 24) return `${prefix}…(${token.length} chars)`;
  return `${prefix}…${token.slice(-4)}`;
}
