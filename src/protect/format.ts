import { equal } from '../lib/bytes.js';
import { CloisterError } from '../lib/errors.js';
import { ByteReader } from '../lib/reader.js';

/**
 * The protected-file format, version 1 (docs/protected-files.md is the full description). A file
 * is a 150-byte header followed by chunks; integers are little-endian, as in every binary format
 * cloister reads, except the STREAM nonce counter (big-endian, as age writes it).
 *
 * | offset | size | field                                                        |
 * | -----: | ---: | ------------------------------------------------------------ |
 * |      0 |   16 | magic "CLOISTER-PROTECT" (ASCII)                             |
 * |     16 |    2 | format version, u16 (1)                                      |
 * |     18 |    4 | chunk size S, u32: a power of two, 2^6 ..= 2^24              |
 * |     22 |   32 | salt: random, fresh for every seal                           |
 * |     54 |    8 | file version, u64                                            |
 * |     62 |    8 | plaintext length L, u64, at most 2^53 - 1                    |
 * |     70 |   32 | SHA-256 of the file's path inside its volume (UTF-8)         |
 * |    102 |   16 | volume key id                                                |
 * |    118 |   32 | HMAC-SHA256 of bytes 0..118 under the file's MAC key          |
 *
 * Then n = max(1, ceil(L / S)) chunks, chunk i being AES-256-GCM(ciphertext ‖ 16-byte tag) of
 * plaintext bytes [i·S, min(L, (i+1)·S)), so every chunk but the last holds S bytes and an empty
 * file is one empty final chunk.
 */

/** The fields of the header in order, with their sizes: the one table encoding and parsing follow. */
export const HEADER_FIELDS = [
  ['magic', 16],
  ['formatVersion', 2],
  ['chunkSize', 4],
  ['salt', 32],
  ['version', 8],
  ['length', 8],
  ['pathHash', 32],
  ['keyId', 16],
  ['mac', 32],
] as const;

type FieldName = (typeof HEADER_FIELDS)[number][0];

/** Byte offset of every header field. */
export const HEADER_OFFSETS = Object.fromEntries(
  HEADER_FIELDS.map(([name], i) => [name, HEADER_FIELDS.slice(0, i).reduce((sum, [, size]) => sum + size, 0)]),
) as Record<FieldName, number>;

/** 150: the header's length. */
export const HEADER_LENGTH = HEADER_FIELDS.reduce((sum, [, size]) => sum + size, 0);
/** 118: the header bytes the MAC covers (all but the MAC). */
export const MAC_INPUT_LENGTH = HEADER_OFFSETS.mac;

export const MAGIC = new TextEncoder().encode('CLOISTER-PROTECT');
/** The format version this build writes and reads. */
export const FORMAT_VERSION = 1;
/** 64 KiB, as age's STREAM chunks. */
export const DEFAULT_CHUNK_SIZE = 1 << 16;
/** Chunk sizes are powers of two within these bounds (64 B ..= 16 MiB). */
export const CHUNK_SIZE_BOUNDS = { min: 1 << 6, max: 1 << 24 } as const;
/** The largest plaintext length the format admits (2^53 - 1, so lengths are exact in any language). */
export const MAX_LENGTH = Number.MAX_SAFE_INTEGER;
/** The largest file version (u64). */
export const MAX_VERSION = (1n << 64n) - 1n;
/** NIST SP 800-38D §5.2.1.2: the full 128-bit GCM tag after every chunk. */
export const TAG_LENGTH = 16;

const CODES = { truncated: 'PROTECTED_TRUNCATED', trailing: 'PROTECTED_HEADER_INVALID' } as const;

/**
 * The fields of a protected file's header. From {@link readHeader} they are unauthenticated;
 * `openFile` and `createOpenStream` authenticate them before trusting any.
 */
export interface ProtectedHeader {
  readonly formatVersion: number;
  /** Plaintext bytes per chunk (the last chunk may hold fewer). */
  readonly chunkSize: number;
  readonly salt: Uint8Array;
  /** The file version: one higher on every rewrite of the file. */
  readonly version: bigint;
  /** The plaintext length in bytes. */
  readonly length: number;
  /** SHA-256 of the file's path inside its volume. */
  readonly pathHash: Uint8Array;
  /** Identifies the volume key (HKDF-SHA256 of it); not secret. */
  readonly keyId: Uint8Array;
  readonly mac: Uint8Array;
  /** Number of chunks: max(1, ceil(length / chunkSize)). */
  readonly chunkCount: number;
  /** Total size of the sealed file: header, ciphertext and one tag per chunk. */
  readonly sealedLength: number;
  /** The header's 150 bytes, a view into the input. */
  readonly bytes: Uint8Array;
}

/** The values a header is written from. */
export type HeaderFields = Pick<ProtectedHeader, 'chunkSize' | 'salt' | 'version' | 'length' | 'pathHash' | 'keyId'>;

/** max(1, ceil(length / chunkSize)): an empty file is one empty chunk, an exact multiple has no empty tail. */
export function chunkCount(length: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(length / chunkSize));
}

/**
 * The size of a sealed file holding `length` plaintext bytes, for preallocation and quotas.
 *
 * @example
 * ```ts
 * sealedLength(0);         // 166: header + one empty chunk's tag
 * sealedLength(1 << 20);   // 1,048,576 + 150 + 16 × 16
 * ```
 */
export function sealedLength(length: number, chunkSize: number = DEFAULT_CHUNK_SIZE): number {
  return HEADER_LENGTH + length + TAG_LENGTH * chunkCount(length, chunkSize);
}

/** Whether `n` is an admissible chunk size: a power of two within {@link CHUNK_SIZE_BOUNDS}. */
export function isChunkSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= CHUNK_SIZE_BOUNDS.min && n <= CHUNK_SIZE_BOUNDS.max && (n & (n - 1)) === 0;
}

/** The header bytes for `fields`, MAC still zero: the caller computes it over the first 118 bytes. */
export function encodeHeader(fields: HeaderFields): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  const at = HEADER_OFFSETS;
  header.set(MAGIC, at.magic);
  header.writeUInt16LE(FORMAT_VERSION, at.formatVersion);
  header.writeUInt32LE(fields.chunkSize, at.chunkSize);
  header.set(fields.salt, at.salt);
  header.writeBigUInt64LE(fields.version, at.version);
  header.writeBigUInt64LE(BigInt(fields.length), at.length);
  header.set(fields.pathHash, at.pathHash);
  header.set(fields.keyId, at.keyId);
  return header;
}

const invalid = (name: FieldName, message: string) =>
  new CloisterError('PROTECTED_HEADER_INVALID', `header.${name}: ${message}`, {
    field: `header.${name}`,
    offset: HEADER_OFFSETS[name],
  });

/** A u64 read as two u32 halves through the bounds-checked reader. */
function u64le(r: ByteReader, field: string): bigint {
  const low = r.u32le(field);
  return (BigInt(r.u32le(field)) << 32n) | BigInt(low);
}

/**
 * Peeks at a protected file's header, WITHOUT authenticating it: anyone can write any header.
 * Use it to size buffers, show a version, or pick a key; trust only what `openFile` returns.
 * A short input is PROTECTED_TRUNCATED; a wrong magic, unknown format version, chunk size that
 * is not a power of two within bounds, or a length above 2^53 - 1 is PROTECTED_HEADER_INVALID,
 * naming the field. Bytes after the header (the chunks) are ignored.
 *
 * @example
 * ```ts
 * const { version, length, chunkSize } = readHeader(sealed);
 * ```
 */
export function readHeader(sealed: Uint8Array): ProtectedHeader {
  const r = new ByteReader(sealed.subarray(0, HEADER_LENGTH), CODES);
  if (!equal(r.bytes(MAGIC.length, 'header.magic'), MAGIC)) throw invalid('magic', 'not a cloister protected file');
  const formatVersion = r.u16le('header.formatVersion');
  if (formatVersion !== FORMAT_VERSION)
    throw invalid(
      'formatVersion',
      `format version ${formatVersion} is not supported (this build reads ${FORMAT_VERSION})`,
    );
  const chunkSize = r.u32le('header.chunkSize');
  if (!isChunkSize(chunkSize))
    throw invalid(
      'chunkSize',
      `chunk size ${chunkSize} is not a power of two from ${CHUNK_SIZE_BOUNDS.min} to ${CHUNK_SIZE_BOUNDS.max}`,
    );
  const salt = r.bytes(32, 'header.salt');
  const version = u64le(r, 'header.version');
  const length = u64le(r, 'header.length');
  if (length > BigInt(MAX_LENGTH)) throw invalid('length', `plaintext length ${length} exceeds 2^53 - 1`);
  const pathHash = r.bytes(32, 'header.pathHash');
  const keyId = r.bytes(16, 'header.keyId');
  const mac = r.bytes(32, 'header.mac');
  const n = Number(length);
  return {
    formatVersion,
    chunkSize,
    salt,
    version,
    length: n,
    pathHash,
    keyId,
    mac,
    chunkCount: chunkCount(n, chunkSize),
    sealedLength: sealedLength(n, chunkSize),
    bytes: sealed.subarray(0, HEADER_LENGTH),
  };
}
