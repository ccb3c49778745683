import { CloisterError, type ErrorCode } from './errors.js';

/**
 * The one validating reader for JSON input: every refusal is a {@link CloisterError} with the
 * reader's code and the JSON path of what it rejects, so that entry points can take `unknown`,
 * validate once and pass typed values inward.
 */

export type JsonObject = Record<string, unknown>;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * The JSON path of `key` below `parent` (`''` is the document root, written `$` on its own).
 *
 * @example
 * ```ts
 * jsonPath(jsonPath('Marbles', 'backend'), 'TLS');   // 'Marbles.backend.TLS'
 * jsonPath('Files', '/tmp/a');                       // 'Files["/tmp/a"]'
 * jsonPath('Argv', 2);                               // 'Argv[2]'
 * ```
 */
export function jsonPath(parent: string, key: string | number): string {
  if (typeof key === 'string' && PLAIN_KEY.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent === '' ? '$' : parent}[${JSON.stringify(key)}]`;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads JSON in two ways, with one error code and paths below `root` (`''`: the document itself).
 * A member of an object: `j.string(o, 'version')` (its path is `root.version`, or below the
 * `path` given). A value at a path: `j.asString(v, path)`, for list and map entries and for the
 * combinators ({@link JsonReader.required}, {@link JsonReader.optional}, {@link JsonReader.map},
 * {@link JsonReader.list}) that take a read function.
 *
 * @example
 * ```ts
 * const j = new JsonReader('COLLATERAL_MALFORMED', 'tcbInfo');
 * const o = j.object(JSON.parse(text));
 * const version = j.int(o, 'version');
 *
 * const r = new JsonReader('MANIFEST_INVALID', '');
 * const p = r.object(value, 'Packages.backend', ['UniqueID', 'Debug']);
 * const debug = r.optional(p, 'Packages.backend', 'Debug', (v, path) => r.asBoolean(v, path)) ?? false;
 * ```
 */
export class JsonReader {
  readonly code: ErrorCode;
  readonly root: string;

  constructor(code: ErrorCode, root: string) {
    this.code = code;
    this.root = root;
  }

  fail(path: string, why: string, cause?: unknown): CloisterError {
    const where = path === '' ? '$' : path;
    return new CloisterError(
      this.code,
      `${where}: ${why}`,
      cause === undefined ? { path: where } : { path: where, cause },
    );
  }

  private at(path: string | undefined, key: string): string {
    return jsonPath(path ?? this.root, key);
  }

  parse(text: string, path = this.root): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw this.fail(path, `not valid JSON (${(cause as Error).message})`, cause);
    }
  }

  /** An object; with `fields`, one whose members are all among them (an unknown member is an error). */
  object(value: unknown, path = this.root, fields?: readonly string[]): JsonObject {
    if (!isObject(value)) throw this.fail(path, 'must be an object');
    if (fields)
      for (const key of Object.keys(value))
        if (!fields.includes(key)) throw this.fail(jsonPath(path, key), `unknown field (known: ${fields.join(', ')})`);
    return value;
  }

  has(o: JsonObject, key: string): boolean {
    return Object.prototype.hasOwnProperty.call(o, key) && o[key] !== undefined;
  }

  // Members of an object.

  string(o: JsonObject, key: string, path?: string): string {
    return this.asString(o[key], this.at(path, key));
  }

  int(o: JsonObject, key: string, path?: string, max = Number.MAX_SAFE_INTEGER): number {
    return this.asInteger(o[key], this.at(path, key), max);
  }

  array(o: JsonObject, key: string, path?: string): unknown[] {
    const v = o[key];
    if (!Array.isArray(v)) throw this.fail(this.at(path, key), 'must be an array');
    return v;
  }

  /** A hex string of exactly `length` bytes (any case), decoded. */
  hex(o: JsonObject, key: string, length: number, path?: string): Uint8Array {
    return new Uint8Array(Buffer.from(this.asHex(o[key], this.at(path, key), length), 'hex'));
  }

  /** A base64 string (RFC 4648 §4, padded), decoded. */
  base64(o: JsonObject, key: string, path?: string): Uint8Array {
    return this.asBase64(o[key], this.at(path, key));
  }

  /** An RFC 3339 UTC date-time, in Unix seconds. */
  date(o: JsonObject, key: string, path?: string): number {
    const v = this.string(o, key, path);
    const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) throw this.fail(this.at(path, key), 'must be an ISO-8601 UTC date-time');
    return Math.floor(ms / 1000);
  }

  /** One of a fixed list of strings. */
  oneOf<T extends string>(o: JsonObject, key: string, allowed: readonly T[], path?: string): T {
    return this.asOneOf(o[key], this.at(path, key), allowed);
  }

  // Members read by a function, and containers of values.

  /** The member `key` of `o` read by `read`, or undefined when absent. */
  optional<T>(o: JsonObject, path: string, key: string, read: (value: unknown, path: string) => T): T | undefined {
    return Object.hasOwn(o, key) ? read(o[key], jsonPath(path, key)) : undefined;
  }

  /** The member `key` of `o` read by `read`; absent is an error. */
  required<T>(o: JsonObject, path: string, key: string, read: (value: unknown, path: string) => T): T {
    if (!Object.hasOwn(o, key)) throw this.fail(jsonPath(path, key), 'is required');
    return read(o[key], jsonPath(path, key));
  }

  /** Sets `out[key]` to the member `key` of `o` read by `read`, when present and `read` gives a value. */
  assign<T extends object, K extends keyof T & string>(
    o: JsonObject,
    path: string,
    out: T,
    key: K,
    read: (value: unknown, path: string) => T[K] | undefined,
  ): void {
    const value = this.optional(o, path, key, read);
    if (value !== undefined) out[key] = value;
  }

  /** An object used as a map from non-empty names to entries read by `each`; a null-prototype record. */
  map<T>(v: unknown, path: string, each: (value: unknown, path: string, name: string) => T): Record<string, T> {
    if (!isObject(v)) throw this.fail(path, 'must be an object');
    const out = Object.create(null) as Record<string, T>;
    for (const [name, value] of Object.entries(v)) {
      if (name === '') throw this.fail(jsonPath(path, name), 'names must not be empty');
      out[name] = each(value, jsonPath(path, name), name);
    }
    return out;
  }

  /** An array whose elements are read by `each`. */
  list<T>(v: unknown, path: string, each: (value: unknown, path: string) => T): T[] {
    if (!Array.isArray(v)) throw this.fail(path, 'must be an array');
    return v.map((e: unknown, i) => each(e, jsonPath(path, i)));
  }

  // Values at a path.

  asString(v: unknown, path: string): string {
    if (typeof v !== 'string') throw this.fail(path, 'must be a string');
    return v;
  }

  /** A string that is not empty. */
  asName(v: unknown, path: string): string {
    const s = this.asString(v, path);
    if (s === '') throw this.fail(path, 'must not be empty');
    return s;
  }

  /** The name of an entry of `section` (in the manifest: a package, secret, role, TLS tag). */
  asEntry(v: unknown, path: string, section: Readonly<Record<string, unknown>>, what: string): string {
    const name = this.asString(v, path);
    if (!Object.hasOwn(section, name)) throw this.fail(path, `unknown ${what} "${name}"`);
    return name;
  }

  asStrings(v: unknown, path: string): string[] {
    return this.list(v, path, (e, p) => this.asString(e, p));
  }

  asBoolean(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') throw this.fail(path, 'must be true or false');
    return v;
  }

  asInteger(v: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
      throw this.fail(path, `must be an integer from 0 to ${max}`);
    return v;
  }

  /** One of `allowed`; with `fold`, matched case-insensitively and returned in the table's spelling. */
  asOneOf<T extends string>(v: unknown, path: string, allowed: readonly T[], fold = false): T {
    const s = this.asString(v, path);
    const found = allowed.find((a) => (fold ? a.toLowerCase() === s.toLowerCase() : a === s));
    if (found === undefined)
      throw this.fail(
        path,
        `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (got ${JSON.stringify(s)})`,
      );
    return found;
  }

  /**
   * Base64 (RFC 4648 §4) in its one canonical spelling, decoded: padded, no whitespace, zero pad
   * bits, so that each byte string has exactly one encoding (Node's decoder alone would skip
   * stray characters).
   */
  asBase64(v: unknown, path: string): Uint8Array {
    const s = this.asString(v, path);
    const bytes = Buffer.from(s, 'base64');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || bytes.toString('base64') !== s)
      throw this.fail(path, 'must be base64 (RFC 4648 §4, padded)');
    return new Uint8Array(bytes);
  }

  /** A hex string of exactly `bytes` bytes (any case), kept as written. */
  asHex(v: unknown, path: string, bytes: number): string {
    const s = this.asString(v, path);
    if (s.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(s))
      throw this.fail(path, `must be ${bytes} bytes of hex (${bytes * 2} hex digits)`);
    return s;
  }
}
