/**
 * The docs match the code: every CLI option, config key and log event has its entry in docs/, docs/ has no entry
 * for anything that no longer exists, and every link between the pages resolves. A failure names exactly what to
 * add or remove, so whoever adds an option learns here what to document.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync, statSync } from "node:fs";
import path from "node:path";
import { mock, test } from "node:test";
import { Command } from "commander";
import { main } from "../src/cli/main.js";
import { configSchema, parseConfig } from "../src/config/config.js";
import { EVENTS } from "../src/log/logger.js";
import { REPO } from "./helpers/env.js";

const README_MAX_LINES = 200;

/** An entry is a heading whose whole text is one code span: "### `sync --dry-run`". Prose headings are not. */
interface Entry {
  name: string;
  level: number;
  /** The text up to the next heading. */
  body: string;
  /** The `##` entry it sits under, if any. */
  parent: string | undefined;
}

function readDoc(name: string): string {
  return readFileSync(path.join(REPO, name), "utf8");
}

function entries(file: string): Entry[] {
  const found: Entry[] = [];
  let parent: string | undefined;
  let current: Entry | undefined;
  let fenced = false;
  for (const line of readDoc(file).split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^(#{1,6})\s+(.*?)\s*$/.exec(line);
    if (!heading) {
      if (current) current.body += `${line}\n`;
      continue;
    }
    const level = heading[1]!.length;
    const code = /^`([^`]+)`$/.exec(heading[2]!);
    if (level <= 2) parent = code ? code[1] : undefined;
    current = code ? { name: code[1]!, level, body: "", parent: level <= 2 ? undefined : parent } : undefined;
    if (current) found.push(current);
  }
  return found;
}

/** What is missing from and stale in a page, as one message listing both (empty when they match). */
function difference(page: string, what: string, inCode: Iterable<string>, documented: Iterable<string>): string {
  const code = new Set(inCode);
  const docs = new Set(documented);
  const missing = [...code].filter((name) => !docs.has(name)).sort();
  const stale = [...docs].filter((name) => !code.has(name)).sort();
  const lines: string[] = [];
  if (missing.length > 0) lines.push(`  ${what} not documented in ${page} (add an entry for each):`);
  for (const name of missing) lines.push(`    ${name}`);
  if (stale.length > 0) lines.push(`  ${page} documents ${what} the code does not have (remove each entry):`);
  for (const name of stale) lines.push(`    ${name}`);
  return lines.join("\n");
}

/** Fails with the title and the problems, one per line, and nothing else (no diff of two strings). */
function assertNone(title: string, problems: string[]): void {
  const found = problems.filter(Boolean);
  assert.ok(found.length === 0, `${title}\n${found.join("\n")}`);
}

function duplicates(names: string[]): string[] {
  return names.filter((name, i) => names.indexOf(name) !== i);
}

/** The real program, as `main` builds it: parsing is stubbed out so that nothing runs. */
async function cliProgram(): Promise<Command> {
  const parse = mock.method(Command.prototype, "parseAsync", function (this: Command) {
    return Promise.resolve(this);
  });
  try {
    await main(["node", "moltbot-auth-sync"]);
  } finally {
    parse.mock.restore();
  }
  const program = parse.mock.calls[0]?.this;
  assert.ok(program instanceof Command, "main() built no commander program");
  return program;
}

const ROOT = "moltbot-auth-sync";

/**
 * Commands by path ("cooldown clear": the leaves, and any other that has options of its own), and options by command
 * path and flags ("sync --dry-run"; the program's own, such as "--config <file>", without a path).
 */
function cliNames(program: Command): { commands: string[]; options: string[] } {
  const commands: string[] = [ROOT];
  const options: string[] = [];
  const globalFlags = new Set(program.options.map((option) => option.flags));
  const walk = (command: Command, at: string[]): void => {
    // Hidden options are deliberately undocumented. A global option repeated on a subcommand (so that its --help
    // shows it) is the same option, documented once with the program's.
    const own = command.options.filter((o) => !o.hidden && (at.length === 0 || !globalFlags.has(o.flags)));
    if (at.length > 0 && (command.commands.length === 0 || own.length > 0)) commands.push(at.join(" "));
    for (const option of own) options.push([...at, option.flags].join(" "));
    for (const sub of command.commands) walk(sub, [...at, sub.name()]);
  };
  walk(program, []);
  return { commands, options };
}

test("docs/cli.md has an entry for every command and option, and for nothing else", async () => {
  const { commands, options } = cliNames(await cliProgram());
  const documented = entries("docs/cli.md");
  const docCommands = documented.filter((e) => e.level === 2).map((e) => e.name);
  const docOptions = documented.filter((e) => e.level === 3);
  const problems = [
    difference("docs/cli.md", "commands (## `command`)", commands, docCommands),
    difference(
      "docs/cli.md",
      "options (### `command --flag <arg>`)",
      options,
      docOptions.map((e) => e.name),
    ),
    ...duplicates([...docCommands, ...docOptions.map((e) => e.name)]).map((name) => `  entry twice: ${name}`),
    // An option's entry sits under its command's, so the page reads as one section per command.
    ...docOptions
      .filter((e) => e.parent !== undefined && !`${e.name} `.startsWith(e.parent === ROOT ? "-" : `${e.parent} -`))
      .map((e) => `  ${e.name} sits under the entry of ${e.parent}, not of its own command`),
    ...docOptions
      .filter((e) => !hasLines(e, ["_Type:_", "_Default:_"]))
      .map((e) => `  ${e.name}: no _Type:_/_Default:_`),
  ];
  assertNone("docs/cli.md is out of step with the CLI:", problems);
});

function hasLines(entry: Entry, labels: string[]): boolean {
  return labels.every((label) => entry.body.split("\n").some((line) => line.startsWith(label)));
}

function defaultLine(entry: Entry): string | undefined {
  const line = entry.body.split("\n").find((l) => l.startsWith("_Default:_"));
  return line
    ?.replace(/^_Default:_\s*/, "")
    .replace(/\\$/, "")
    .trim();
}

const DEFAULTS = parseConfig({}, "defaults") as Record<string, unknown>;

/** A default written as one code span is a JSON value: it must mean what the schema's default means. */
function defaultProblem(key: string, written: string | undefined): string | undefined {
  const real = DEFAULTS[key];
  if (written === undefined)
    return real === undefined ? undefined : `${key}: write the default as JSON, in one code span`;
  let meant: unknown;
  try {
    meant = (parseConfig({ [key]: JSON.parse(written) }, "the docs") as Record<string, unknown>)[key];
  } catch (err) {
    return `${key}: documented default ${written} is not valid: ${(err as Error).message}`;
  }
  if (JSON.stringify(meant) === JSON.stringify(real)) return undefined;
  return `${key}: documented default ${written}, but the default is ${JSON.stringify(real)}`;
}

test("docs/config.md has an entry for every config key, with its real default, and for nothing else", () => {
  const keys = Object.keys(configSchema.shape);
  const documented = entries("docs/config.md").filter((e) => e.level === 3);
  const problems = [
    difference(
      "docs/config.md",
      "config keys (### `key`)",
      keys,
      documented.map((e) => e.name),
    ),
    ...duplicates(documented.map((e) => e.name)).map((name) => `  entry twice: ${name}`),
  ].filter(Boolean);
  for (const entry of documented.filter((e) => keys.includes(e.name))) {
    if (!hasLines(entry, ["_Type:_", "_Default:_"])) {
      problems.push(`  ${entry.name}: no _Type:_/_Default:_`);
      continue;
    }
    const problem = defaultProblem(entry.name, /^`([^`]+)`$/.exec(defaultLine(entry) ?? "")?.[1]);
    if (problem) problems.push(`  ${problem}`);
  }
  assertNone("docs/config.md is out of step with the config schema:", problems);
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(path.join(dir, d.name)) : d.name.endsWith(".ts") ? [path.join(dir, d.name)] : [],
  );
}

/** EVENTS, plus any event a call site names as a literal (`log.warn({ event: "hook.failed" }, …)`). */
function loggedEvents(): string[] {
  const events = new Set<string>(EVENTS);
  for (const file of sourceFiles(path.join(REPO, "src"))) {
    for (const m of readFileSync(file, "utf8").matchAll(/\bevent: "([a-z_]+(?:\.[a-z_]+)*)"/g)) events.add(m[1]!);
  }
  return [...events];
}

test("docs/logs.md has an entry for every log event, and for nothing else", () => {
  const documented = entries("docs/logs.md").filter((e) => e.level === 3);
  const problems = [
    difference(
      "docs/logs.md",
      "log events (### `event`)",
      loggedEvents(),
      documented.map((e) => e.name),
    ),
    ...duplicates(documented.map((e) => e.name)).map((name) => `  entry twice: ${name}`),
    ...documented.filter((e) => !hasLines(e, ["_Level:_"])).map((e) => `  ${e.name}: no _Level:_`),
  ];
  assertNone("docs/logs.md is out of step with the log events:", problems);
});

function markdownFiles(): string[] {
  const docs = readdirSync(path.join(REPO, "docs")).filter((name) => name.endsWith(".md"));
  return ["README.md", ...docs.map((name) => `docs/${name}`)];
}

/** GitHub's heading anchors: lower case, punctuation but `-` and `_` dropped, spaces to `-`, repeats numbered. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of readDoc(file).split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

test("every link in the README and docs/ resolves inside the repo, to a heading that exists", () => {
  const problems: string[] = [];
  for (const file of markdownFiles()) {
    const text = readDoc(file).replace(/```[\s\S]*?```/g, "");
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^(https?|mailto):/.test(target)) continue;
      const [where, anchor] = target.split("#") as [string, string | undefined];
      const resolved = where === "" ? path.join(REPO, file) : path.resolve(path.dirname(path.join(REPO, file)), where);
      const inRepo = path.relative(REPO, resolved);
      if (inRepo.startsWith("..") || path.isAbsolute(inRepo)) {
        problems.push(`  ${file}: ${target} is outside the repo`);
      } else if (!existsSync(resolved)) {
        problems.push(`  ${file}: ${target}: no such file`);
      } else if (anchor !== undefined && (!statSync(resolved).isFile() || !anchors(inRepo).has(anchor))) {
        problems.push(`  ${file}: ${target}: no heading #${anchor} in ${inRepo}`);
      }
    }
    // The reference notes this project was built from are not in the repo: a reader cannot follow them.
    if (/shared\/reference/.test(text)) problems.push(`  ${file}: cites shared/reference, which is not in the repo`);
  }
  assertNone("broken links in the README and docs/:", problems);
});

test(`the README stays a page an admin reads top-down: at most ${README_MAX_LINES} lines`, () => {
  const lines = readDoc("README.md").trimEnd().split("\n").length;
  assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines: move reference material into docs/`);
});

test("the README's config table names real keys, with their real defaults", () => {
  const keys = Object.keys(configSchema.shape);
  const problems: string[] = [];
  const section = /^## Config\n([\s\S]*?)^## /m.exec(readDoc("README.md"))?.[1] ?? "";
  assert.match(section, /^\| `/m, "README.md has no config table under ## Config");
  for (const m of section.matchAll(/^\| `([A-Za-z]+)` +\| ([^|]*?) +\|/gm)) {
    const [, key, written] = m as unknown as [string, string, string];
    if (!keys.includes(key)) problems.push(`  ${key}: no such config key`);
    else problems.push(`  ${defaultProblem(key, /^`([^`]+)`$/.exec(written)?.[1]) ?? ""}`.trimEnd());
  }
  assertNone("README.md's config table is out of step with the config schema:", problems);
});
