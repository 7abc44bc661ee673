/**
 * A small strict validator for the config, the credentials file and the gateway's JSON cells, in place of zod:
 * zod's import graph cost the daemon about 8 MB of RSS (docs/performance.md), and these shapes need a few dozen
 * checks. Its messages are zod 4's, word for word ("Invalid input: expected string, received number"), so errors
 * read as they always did; a schema reports the first problem it meets, in the order zod would list it (keys in
 * the shape's order, unknown keys after them, a refinement only once its value is otherwise valid).
 */

export type Path = ReadonlyArray<string | number>;

/** The first problem found: where, what, and for unknown keys their names. Callers turn it into their own error. */
export class Issue extends Error {
  constructor(
    readonly path: Path,
    message: string,
    readonly unknownKeys?: readonly string[],
  ) {
    super(message);
  }
}

/** Returns the value (with defaults applied), or throws an `Issue`. */
export type Schema<T> = (value: unknown, path: Path) => T;
export type Output<S> = S extends Schema<infer T> ? T : never;

/** The type's name as zod's messages give it. */
function received(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : Number.isFinite(value) ? "number" : "Infinity";
  return typeof value;
}

const invalidType = (path: Path, expected: string, value: unknown) =>
  new Issue(path, `Invalid input: expected ${expected}, received ${received(value)}`);

export function string(options: { min?: number; pattern?: { regex: RegExp; message: string } } = {}): Schema<string> {
  return (value, path) => {
    if (typeof value !== "string") throw invalidType(path, "string", value);
    if (options.min !== undefined && value.length < options.min)
      throw new Issue(path, `Too small: expected string to have >=${options.min} characters`);
    if (options.pattern && !options.pattern.regex.test(value)) throw new Issue(path, options.pattern.message);
    return value;
  };
}

/** A finite number; `int` and `positive` as zod's `.int()` and `.positive()`. */
export function number(options: { int?: boolean; positive?: boolean } = {}): Schema<number> {
  return (value, path) => {
    if (typeof value !== "number" || !Number.isFinite(value)) throw invalidType(path, "number", value);
    if (options.int && !Number.isInteger(value)) throw invalidType(path, "int", value);
    if (options.positive && value <= 0) throw new Issue(path, "Too small: expected number to be >0");
    return value;
  };
}

export function boolean(): Schema<boolean> {
  return (value, path) => {
    if (typeof value !== "boolean") throw invalidType(path, "boolean", value);
    return value;
  };
}

export function oneOf<const T extends string>(values: readonly T[]): Schema<T> {
  const expected = values.map((v) => JSON.stringify(v)).join("|");
  return (value, path) => {
    if (!values.includes(value as T)) throw new Issue(path, `Invalid option: expected one of ${expected}`);
    return value as T;
  };
}

export function array<T>(item: Schema<T>, options: { min?: number } = {}): Schema<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) throw invalidType(path, "array", value);
    const items = value.map((v: unknown, i) => item(v, [...path, i]));
    if (options.min !== undefined && items.length < options.min)
      throw new Issue(path, `Too small: expected array to have >=${options.min} items`);
    return items;
  };
}

/** An object used as a map: every value matches `item`; the keys are free. */
export function record<T>(item: Schema<T>): Schema<Record<string, T>> {
  return (value, path) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidType(path, "record", value);
    // fromEntries defines each key as its own property, even "__proto__" from JSON.parse.
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, item(entry, [...path, key])]));
  };
}

/** Absent (undefined) is allowed, and left out of the object it is in. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return (value, path) => (value === undefined ? undefined : schema(value, path));
}

export function nullish<T>(schema: Schema<T>): Schema<T | null | undefined> {
  return (value, path) => (value === undefined || value === null ? value : schema(value, path));
}

/** Absent (undefined) becomes `fallback` (a copy of it, so that no caller can change the default itself). */
export function withDefault<T>(schema: Schema<T>, fallback: T): Schema<T> {
  return (value, path) => (value === undefined ? structuredClone(fallback) : schema(value, path));
}

/**
 * Checks run on a value `schema` accepted; `fail` reports a problem at a path below the value's own. Like zod's
 * superRefine, every check sees the whole value, and the first problem reported is the one that counts.
 */
export function refine<T>(
  schema: Schema<T>,
  check: (value: T, fail: (message: string, path?: Path) => void) => void,
): Schema<T> {
  return (value, path) => {
    const parsed = schema(value, path);
    let first: Issue | undefined;
    check(parsed, (message, below = []) => (first ??= new Issue([...path, ...below], message)));
    if (first) throw first;
    return parsed;
  };
}

type Shape = Record<string, Schema<unknown>>;
type Flat<T> = { [K in keyof T]: T[K] };
/** Keys whose schema may give undefined are optional keys of the output. */
export type ObjectOutput<S extends Shape> = Flat<
  { [K in keyof S as undefined extends Output<S[K]> ? never : K]: Output<S[K]> } & {
    [K in keyof S as undefined extends Output<S[K]> ? K : never]?: Output<S[K]>;
  }
>;
export type ObjectSchema<S extends Shape> = Schema<ObjectOutput<S>> & { readonly shape: S };

function object<S extends Shape>(shape: S, strict: boolean): ObjectSchema<S> {
  const keys = Object.keys(shape);
  const parse = (value: unknown, path: Path): ObjectOutput<S> => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidType(path, "object", value);
    const input = value as Record<string, unknown>;
    const out: Record<string, unknown> = strict ? {} : { ...input };
    for (const key of keys) {
      const parsed = shape[key]!(input[key], [...path, key]);
      if (parsed !== undefined) out[key] = parsed;
      else delete out[key];
    }
    if (strict) {
      const unknown = Object.keys(input).filter((key) => !Object.hasOwn(shape, key));
      if (unknown.length > 0) throw new Issue(path, "Unrecognized keys", unknown);
    }
    return out as ObjectOutput<S>;
  };
  return Object.assign(parse, { shape });
}

/** An object with exactly these keys: any other key is a problem. */
export function strictObject<S extends Shape>(shape: S): ObjectSchema<S> {
  return object(shape, true);
}

/** An object with at least these keys; the others are kept as they are. */
export function looseObject<S extends Shape>(shape: S): ObjectSchema<S> {
  return object(shape, false);
}
