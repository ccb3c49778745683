import { CloisterError } from '../../lib/errors.js';
import { DEFAULT_CHUNK_SIZE, MAX_LENGTH, MAX_VERSION, isChunkSize, CHUNK_SIZE_BOUNDS } from '../format.js';
import type { FileKeyOptions, OpenOptions, SealOptions } from '../types.js';
import { hashPath } from './keys.js';

/**
 * Validation of the options of sealing and opening, once at the boundary: every refusal is
 * PROTECTED_OPTIONS_INVALID naming the option.
 */

const VOLUME_KEY_LENGTH = 32;
const ROOT_LENGTH = 32;
const MAX_PATH_BYTES = 4096;
/** Lone UTF-16 surrogates would be encoded as U+FFFD, so two different paths could hash alike. */
const LONE_SURROGATE = /\p{Surrogate}/u;

export const refuse = (field: string, message: string, actual?: unknown): CloisterError =>
  new CloisterError('PROTECTED_OPTIONS_INVALID', `${field}: ${message}`, { field, actual });

/** A file's validated identity: the raw volume key, its path hash and the name errors use. */
export interface FileIdentity {
  readonly volumeKey: Uint8Array;
  readonly path: string;
  readonly pathHash: Uint8Array;
  readonly name: string;
}

/**
 * Why `path` is not a canonical volume path, or `undefined` when it is one: relative, `/`
 * between segments that are neither empty, `.` nor `..`, no NUL, well-formed Unicode, at most
 * 4096 UTF-8 bytes.
 *
 * @example
 * ```ts
 * pathProblem('app/main.py');   // undefined
 * pathProblem('/etc/passwd');   // 'must be relative, …'
 * ```
 */
export function pathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'must be a non-empty string';
  if (LONE_SURROGATE.test(path)) return 'must be well-formed Unicode';
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) return `must be at most ${MAX_PATH_BYTES} UTF-8 bytes`;
  if (path.includes('\0')) return 'must not contain NUL';
  const bad = path.split('/').find((s) => s === '' || s === '.' || s === '..');
  if (bad !== undefined)
    return `must be relative, with "/" between segments that are neither empty, "." nor ".." (got ${JSON.stringify(path)})`;
  return undefined;
}

export function identity(o: FileKeyOptions & { fileName?: string }): FileIdentity {
  if (!(o.volumeKey instanceof Uint8Array) || o.volumeKey.length !== VOLUME_KEY_LENGTH) {
    throw refuse(
      'volumeKey',
      `must be ${VOLUME_KEY_LENGTH} bytes`,
      o.volumeKey instanceof Uint8Array ? o.volumeKey.length : typeof o.volumeKey,
    );
  }
  const problem = pathProblem(o.path);
  if (problem !== undefined) throw refuse('path', problem);
  return {
    volumeKey: new Uint8Array(o.volumeKey),
    path: o.path,
    pathHash: hashPath(o.path),
    name: o.fileName ?? o.path,
  };
}

/** A u64 version from a bigint or a safe integer. */
export function toVersion(value: bigint | number, field: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'bigint' && value >= 0n && value <= MAX_VERSION) return value;
  throw refuse(field, 'must be an integer from 0 to 2^64 - 1 (a safe integer when a number)', String(value));
}

export function toChunkSize(value: number | undefined): number {
  if (value === undefined) return DEFAULT_CHUNK_SIZE;
  if (!isChunkSize(value))
    throw refuse(
      'chunkSize',
      `must be a power of two from ${CHUNK_SIZE_BOUNDS.min} to ${CHUNK_SIZE_BOUNDS.max}`,
      value,
    );
  return value;
}

export function toLength(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_LENGTH)
    throw refuse(field, 'must be a non-negative safe integer', value);
  return value;
}

/** Validated seal options. */
export interface SealParams extends FileIdentity {
  readonly version: bigint;
  readonly chunkSize: number;
}

export function sealParams(o: SealOptions & { fileName?: string }): SealParams {
  return { ...identity(o), version: toVersion(o.version, 'version'), chunkSize: toChunkSize(o.chunkSize) };
}

/** Validated open options. */
export interface OpenParams extends FileIdentity {
  readonly expectedVersion: bigint | undefined;
  readonly expectedRoot: Uint8Array | undefined;
}

export function openParams(o: OpenOptions): OpenParams {
  const root = o.expectedRoot;
  if (root !== undefined && (!(root instanceof Uint8Array) || root.length !== ROOT_LENGTH))
    throw refuse('expectedRoot', `must be ${ROOT_LENGTH} bytes`);
  return {
    ...identity(o),
    expectedVersion: o.expectedVersion === undefined ? undefined : toVersion(o.expectedVersion, 'expectedVersion'),
    expectedRoot: root === undefined ? undefined : new Uint8Array(root),
  };
}
