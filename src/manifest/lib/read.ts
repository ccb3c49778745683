import { CloisterError, type ErrorCode } from '../../lib/errors.js';

/**
 * Validating readers for the manifest's JSON. Every value is read with its JSON path
 * (`Marbles.backend.Parameters.Env.API_KEY`, `Marbles.backend.Parameters.Files["/tmp/a.txt"]`),
 * and every refusal is a {@link CloisterError} carrying that path.
 */

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * The JSON path of `key` below `parent` (`''` is the document root, written `$` on its own).
 *
 * @example
 * ```ts
 * at(at('Marbles', 'backend'), 'TLS');   // 'Marbles.backend.TLS'
 * at('Files', '/tmp/a');                 // 'Files["/tmp/a"]'
 * at('Argv', 2);                         // 'Argv[2]'
 * ```
 */
export function at(parent: string, key: string | number): string {
  if (typeof key === 'string' && PLAIN_KEY.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent === '' ? '$' : parent}[${JSON.stringify(key)}]`;
}

/** The document root's path in messages. */
const ROOT = '$';

export type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads JSON values, failing with one error code and the path of the offending value.
 *
 * @example
 * ```ts
 * const r = new Reader('MANIFEST_INVALID');
 * const o = r.object(value, 'Packages.backend', ['UniqueID', 'Debug']);
 * const debug = r.optional(o, 'Packages.backend', 'Debug', (v, p) => r.boolean(v, p)) ?? false;
 * ```
 */
export class Reader {
  readonly code: ErrorCode;

  constructor(code: ErrorCode) {
    this.code = code;
  }

  fail(path: string, why: string, cause?: unknown): CloisterError {
    const where = path === '' ? ROOT : path;
    return new CloisterError(
      this.code,
      `${where}: ${why}`,
      cause === undefined ? { path: where } : { path: where, cause },
    );
  }

  /** An object whose fields are all among `fields` (unknown fields are errors). */
  object(v: unknown, path: string, fields: readonly string[]): Json {
    if (!isObject(v)) throw this.fail(path, 'must be an object');
    for (const key of Object.keys(v))
      if (!fields.includes(key)) throw this.fail(at(path, key), `unknown field (known: ${fields.join(', ')})`);
    return v;
  }

  /** An object used as a map from non-empty names to entries read by `each`; a null-prototype record. */
  map<T>(v: unknown, path: string, each: (value: unknown, path: string, name: string) => T): Record<string, T> {
    if (!isObject(v)) throw this.fail(path, 'must be an object');
    const out = Object.create(null) as Record<string, T>;
    for (const [name, value] of Object.entries(v)) {
      if (name === '') throw this.fail(at(path, name), 'names must not be empty');
      out[name] = each(value, at(path, name), name);
    }
    return out;
  }

  /** An array whose elements are read by `each`. */
  list<T>(v: unknown, path: string, each: (value: unknown, path: string) => T): T[] {
    if (!Array.isArray(v)) throw this.fail(path, 'must be an array');
    return v.map((e: unknown, i) => each(e, at(path, i)));
  }

  /** The field `key` of `o` read by `read`, or undefined when absent. */
  optional<T>(o: Json, path: string, key: string, read: (value: unknown, path: string) => T): T | undefined {
    return Object.hasOwn(o, key) ? read(o[key], at(path, key)) : undefined;
  }

  /** Sets `out[key]` to the field `key` of `o` read by `read`, when present and `read` gives a value. */
  assign<T extends object, K extends keyof T & string>(
    o: Json,
    path: string,
    out: T,
    key: K,
    read: (value: unknown, path: string) => T[K] | undefined,
  ): void {
    const value = this.optional(o, path, key, read);
    if (value !== undefined) out[key] = value;
  }

  /** The field `key` of `o` read by `read`; absent is an error. */
  required<T>(o: Json, path: string, key: string, read: (value: unknown, path: string) => T): T {
    if (!Object.hasOwn(o, key)) throw this.fail(at(path, key), 'is required');
    return read(o[key], at(path, key));
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') throw this.fail(path, 'must be a string');
    return v;
  }

  /** A string that is not empty. */
  name(v: unknown, path: string): string {
    const s = this.string(v, path);
    if (s === '') throw this.fail(path, 'must not be empty');
    return s;
  }

  /** The name of an entry of `section` (a package, secret, role, TLS tag). */
  entry(v: unknown, path: string, section: Readonly<Record<string, unknown>>, what: string): string {
    const name = this.string(v, path);
    if (!Object.hasOwn(section, name)) throw this.fail(path, `unknown ${what} "${name}"`);
    return name;
  }

  strings(v: unknown, path: string): string[] {
    return this.list(v, path, (e, p) => this.string(e, p));
  }

  boolean(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') throw this.fail(path, 'must be true or false');
    return v;
  }

  integer(v: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
      throw this.fail(path, `must be an integer from 0 to ${max}`);
    return v;
  }

  /** One of `allowed`; with `fold`, matched case-insensitively and returned in the table's spelling. */
  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[], fold = false): T {
    const s = this.string(v, path);
    const found = allowed.find((a) => (fold ? a.toLowerCase() === s.toLowerCase() : a === s));
    if (found === undefined)
      throw this.fail(
        path,
        `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (got ${JSON.stringify(s)})`,
      );
    return found;
  }

  /** A hex string of exactly `bytes` bytes (any case), kept as written. */
  hex(v: unknown, path: string, bytes: number): string {
    const s = this.string(v, path);
    if (s.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(s))
      throw this.fail(path, `must be ${bytes} bytes of hex (${bytes * 2} hex digits)`);
    return s;
  }
}
