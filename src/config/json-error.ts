/**
 * Where a JSON file is broken, as `file:line:column`, the form editors and terminals jump to. Node 20's JSON.parse
 * gives a position for most errors but not for an unexpected token, whose message instead quotes a piece of the
 * file around it (raw newlines and control characters included), so that one is found by scanning the text
 * ourselves.
 */
import { escapeControl } from "../core/terminal-text.js";

const WHITESPACE = " \t\n\r";
const ESCAPES = '"\\/bfnrt';
const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

/**
 * The offset of the first character that cannot continue a JSON text (RFC 8259), the text's length when it ends
 * too early, or undefined when it is JSON. It checks the grammar only, without building values, and keeps open
 * objects and arrays on a stack of its own so that a deeply nested file cannot overflow the call stack.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const skipWhitespace = () => {
    while (i < text.length && WHITESPACE.includes(text[i]!)) i++;
  };
  const string = (): boolean => {
    if (text[i] !== '"') return false;
    for (i++; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"') {
        i++;
        return true;
      }
      if (c < " ") return false;
      if (c !== "\\") continue;
      i++;
      if (text[i] === "u") {
        for (let k = 0; k < 4; k++) if (!/[0-9a-fA-F]/.test(text[++i] ?? "")) return false;
      } else if (text[i] === undefined || !ESCAPES.includes(text[i]!)) return false;
    }
    return false;
  };
  const digits = (): boolean => {
    if (!isDigit(text[i])) return false;
    while (isDigit(text[i])) i++;
    return true;
  };
  const number = (): boolean => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else if (!digits()) return false;
    if (text[i] === ".") {
      i++;
      if (!digits()) return false;
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      if (!digits()) return false;
    }
    return true;
  };
  // A literal is matched letter by letter, so that `tru}` is wrong at the `}`, as JSON.parse says too.
  const literal = (): boolean => {
    const word = ["true", "false", "null"].find((w) => w[0] === text[i]);
    if (word === undefined) return false;
    for (const letter of word) {
      if (text[i] !== letter) return false;
      i++;
    }
    return true;
  };
  const scalar = () => (text[i] === '"' ? string() : text[i] === "-" || isDigit(text[i]) ? number() : literal());
  const key = (): boolean => {
    if (!string()) return false;
    skipWhitespace();
    if (text[i] !== ":") return false;
    i++;
    return true;
  };

  const open: string[] = [];
  let expectValue = true;
  for (;;) {
    skipWhitespace();
    if (expectValue) {
      const c = text[i];
      if (c === "{" || c === "[") {
        const close = c === "{" ? "}" : "]";
        i++;
        skipWhitespace();
        if (text[i] === close) {
          i++;
          expectValue = false;
        } else {
          open.push(close);
          if (close === "}" && !key()) return i;
        }
        continue;
      }
      if (!scalar()) return i;
      expectValue = false;
      continue;
    }
    const close = open.at(-1);
    if (close === undefined) return i < text.length ? i : undefined;
    if (text[i] === close) {
      open.pop();
      i++;
    } else if (text[i] === ",") {
      i++;
      skipWhitespace();
      if (close === "}" && !key()) return i;
      expectValue = true;
    } else return i;
  }
}

/** 1-based line and column of `offset`; a column counts characters, so a tab or an emoji is one. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split(/\r\n|\r|\n/);
  return { line: lines.length, column: [...lines.at(-1)!].length + 1 };
}

/** The character at `offset` as it can be read: quoted, with its code point when it is not plain visible ASCII. */
function characterAt(text: string, offset: number): string {
  const code = text.codePointAt(offset)!;
  const quoted = `'${escapeControl(String.fromCodePoint(code))}'`;
  return code > 0x20 && code < 0x7f ? quoted : `${quoted} (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
}

/** `… in JSON at position 7`, `… after JSON at position 7`; newer V8s add ` (line 1 column 8)`. */
const AT_POSITION = /(?: in JSON)? at position (\d+)(?: \(line \d+ column \d+\))?$/;
const END_OF_INPUT = "Unexpected end of JSON input";
/** The forms that quote the file instead of giving a place; the first names the character, the second does not. */
const UNEXPECTED_TOKEN = /^Unexpected token '(.)', .*is not valid JSON$/s;
const NOT_VALID = /^".*" is not valid JSON$/s;

/**
 * One line for a JSON.parse failure of `text` read from `file`: `file:line:column: not valid JSON: <what>`, without
 * the excerpt of the file JSON.parse may quote. Without a place we can trust, it says what JSON.parse said.
 */
export function jsonErrorLine(file: string, text: string, message: string): string {
  if (/^[ \t\n\r]*$/.test(text)) return `${file}: the file is empty; {} is a config with every default`;
  const at = (offset: number, what: string) => {
    const { line, column } = lineColumn(text, offset);
    return `${file}:${line}:${column}: not valid JSON: ${escapeControl(what)}`;
  };
  const given = AT_POSITION.exec(message);
  if (given) {
    const offset = Number(given[1]);
    const what = message.replace(AT_POSITION, "");
    // "Bad control character", "Bad escaped character": which one, since it may be invisible.
    const named = /character/.test(what) && offset < text.length;
    return at(offset, named ? `${what}: ${characterAt(text, offset)}` : what);
  }
  const offset = jsonErrorOffset(text);
  if (offset === text.length && message === END_OF_INPUT) return at(offset, message);
  if (offset !== undefined && offset < text.length) {
    const token = UNEXPECTED_TOKEN.exec(message)?.[1];
    // The scan must land where JSON.parse stopped, on the character it names: a wrong place is worse than none.
    if (token === undefined ? NOT_VALID.test(message) : text[offset] === token) {
      return at(offset, `Unexpected token ${characterAt(text, offset)}`);
    }
  }
  return `${file}: not valid JSON: ${escapeControl(message)}`;
}
