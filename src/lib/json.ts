import { CloisterError, type ErrorCode } from './errors.js';

/**
 * Validating readers for JSON input: each names the JSON path of what it rejects, so that
 * entry points can take `unknown`, validate once and pass typed values inward.
 *
 * @example
 * ```ts
 * const j = new JsonReader('COLLATERAL_MALFORMED', 'tcbInfo');
 * const o = j.object(JSON.parse(text));
 * const version = j.int(o, 'version');
 * ```
 */
export class JsonReader {
  readonly code: ErrorCode;
  readonly root: string;

  constructor(code: ErrorCode, root: string) {
    this.code = code;
    this.root = root;
  }

  fail(path: string, why: string): CloisterError {
    return new CloisterError(this.code, `${path}: ${why}`, { path });
  }

  private at(path: string | undefined, key: string): string {
    return `${path ?? this.root}.${key}`;
  }

  parse(text: string, path = this.root): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new CloisterError(this.code, `${path}: not valid JSON (${(cause as Error).message})`, { path, cause });
    }
  }

  object(value: unknown, path = this.root): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw this.fail(path, 'must be an object');
    return value as Record<string, unknown>;
  }

  has(o: Record<string, unknown>, key: string): boolean {
    return Object.prototype.hasOwnProperty.call(o, key) && o[key] !== undefined;
  }

  string(o: Record<string, unknown>, key: string, path?: string): string {
    const v = o[key];
    if (typeof v !== 'string') throw this.fail(this.at(path, key), 'must be a string');
    return v;
  }

  int(o: Record<string, unknown>, key: string, path?: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
      throw this.fail(this.at(path, key), `must be an integer from 0 to ${max}`);
    return v;
  }

  array(o: Record<string, unknown>, key: string, path?: string): unknown[] {
    const v = o[key];
    if (!Array.isArray(v)) throw this.fail(this.at(path, key), 'must be an array');
    return v;
  }

  /** A hex string of exactly `length` bytes (any case). */
  hex(o: Record<string, unknown>, key: string, length: number, path?: string): Uint8Array {
    const v = this.string(o, key, path);
    if (v.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(v))
      throw this.fail(this.at(path, key), `must be ${length} bytes of hex`);
    return new Uint8Array(Buffer.from(v, 'hex'));
  }

  /** An RFC 3339 UTC date-time, in Unix seconds. */
  date(o: Record<string, unknown>, key: string, path?: string): number {
    const v = this.string(o, key, path);
    const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) throw this.fail(this.at(path, key), 'must be an ISO-8601 UTC date-time');
    return Math.floor(ms / 1000);
  }

  /** One of a fixed list of strings. */
  oneOf<T extends string>(o: Record<string, unknown>, key: string, allowed: readonly T[], path?: string): T {
    const v = this.string(o, key, path);
    if (!(allowed as readonly string[]).includes(v))
      throw this.fail(this.at(path, key), `must be one of ${allowed.join(', ')} (got "${v}")`);
    return v as T;
  }
}
