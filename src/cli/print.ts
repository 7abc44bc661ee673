/**
 * Human output: every line a command prints goes through here, so a value that came from disk or another
 * program (a folder name, a log message, a child's error) cannot move the cursor, recolour the terminal,
 * reorder text or start a line of its own. JSON output is JSON.stringify's, which escapes by itself.
 */
import { escapeControl } from "../core/terminal-text.js";

/** Writes lines, each escaped on its own: a newline inside a value shows as `\n` and cannot forge a line. */
export function printLines(lines: readonly string[], stream: NodeJS.WritableStream = process.stdout): void {
  if (lines.length > 0) stream.write(`${lines.map(escapeControl).join("\n")}\n`);
}

/** Left-aligned columns for human output, one string per row; cells are escaped before they are measured. */
export function columns(rows: string[][]): string[] {
  const escaped = rows.map((row) => row.map(escapeControl));
  const widths: number[] = [];
  for (const row of escaped) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const padded = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)));
  return escaped.map((row) => padded(row).join("  ").trimEnd());
}
