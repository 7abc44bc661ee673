/**
 * Domain errors. The core throws these; only `cli/main.ts` turns them into exit codes,
 * so every message here must already be the one line an admin should read.
 */

/** sysexits(3) EX_CONFIG: the service manager should not restart-loop on it. */
const EXIT_CONFIG = 78;

export class AuthSyncError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode = 1,
    /** What to try, printed on a line of its own after the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The config file or config values are invalid: one line per problem, each naming the file (and the key). */
export class ConfigError extends AuthSyncError {
  readonly lines: readonly string[];

  constructor(problems: string | readonly string[]) {
    const lines = typeof problems === "string" ? [problems] : problems;
    super(lines.join("\n"), "config.invalid", EXIT_CONFIG);
    this.lines = lines;
  }
}

export type SourceProblem = "not_logged_in" | "invalid" | "unreadable" | "unavailable";

/** A credential source cannot give a usable credential. */
export class SourceError extends AuthSyncError {
  constructor(
    message: string,
    readonly problem: SourceProblem,
    code = `source.${problem}`,
  ) {
    super(message, code);
  }
}

export type StoreProblem = "locked" | "invalid" | "unwritable" | "unsupported" | "busy";

/** One agent's store could not be read or written; the store is left as it was. */
export class StoreError extends AuthSyncError {
  constructor(
    message: string,
    readonly problem: StoreProblem,
  ) {
    super(message, `store.${problem}`);
  }
}

/** Ends a command with a given exit code after it has printed its own output. */
export class ExitError extends AuthSyncError {
  constructor(exitCode: number, message = "") {
    super(message, "exit", exitCode);
  }
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A thrown value as an Error, for handlers that take one (a watcher's error event can carry anything). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
