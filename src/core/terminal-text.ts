/**
 * Text from disk or another program made safe for a terminal: `escapeControl` for what we show,
 * `shellQuote` for a word in a command we tell people to paste.
 */

/** C0, DEL, C1, and the Unicode bidi controls and line/paragraph separators. */
const CONTROL_CLASS = "\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069";
const CONTROL = new RegExp(`[${CONTROL_CLASS}]`, "g");
/** The same without C0: JSON.stringify escapes C0 in strings, and its own newlines and spaces must stay. */
const BEYOND_C0 = new RegExp(`[${CONTROL_CLASS.replace("\\u0000-\\u001f", "")}]`, "g");
/** Whether text holds a character a terminal (or a line-based file format) acts on. */
export function hasControl(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Shows each control character as a visible escape (`\n`, `\x1b`, `\u202e`), so none acts on the terminal. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? escapeOne(c));
}

/**
 * JSON text with the control characters JSON.stringify leaves raw (DEL, C1, bidi, line separators) written
 * as `\uXXXX` escapes: the same JSON to a parser, nothing a terminal acts on. They can only be inside strings.
 */
export function jsonSafe(json: string): string {
  return json.replace(BEYOND_C0, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one word for a POSIX shell, so a pasted fix command acts on exactly that path, whatever it holds.
 * Control characters use bash/zsh `$'…'` escapes (the same `\xHH`/`\uHHHH` forms), so none is printed raw.
 */
export function shellQuote(word: string): string {
  if (SHELL_SAFE.test(word)) return word;
  if (!hasControl(word)) return `'${word.replace(/'/g, "'\\''")}'`;
  return `$'${word.replace(/['\\]/g, "\\$&").replace(CONTROL, escapeOne)}'`;
}
