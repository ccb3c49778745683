import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';
import { equal } from '../lib/bytes.js';
import { CloisterError } from '../lib/errors.js';
import { ByteReader } from '../lib/reader.js';

/**
 * The sealed state file format (little-endian, as every binary format cloister reads):
 *
 * | offset | size | field                                    |
 * | -----: | ---: | ---------------------------------------- |
 * |      0 |   14 | magic "CLOISTER-STATE" (ASCII)           |
 * |     14 |    2 | format version, u16 (1)                  |
 * |     16 |    8 | generation, u64: +1 on every write       |
 * |     24 |   12 | AES-GCM nonce                            |
 * |     36 |    n | AES-256-GCM ciphertext of the state      |
 * |   36+n |   16 | GCM authentication tag                   |
 *
 * The 36-byte header is the additional authenticated data, so the magic, version and generation
 * are authenticated with the state (NIST SP 800-38D §5.2.1).
 */

const MAGIC = new TextEncoder().encode('CLOISTER-STATE');
/** The format version this build writes and reads. */
export const FORMAT_VERSION = 1;
/** NIST SP 800-38D §5.2.1.1: 96-bit IVs; §8.2.2: generated at random, so at most 2^32 seals per key (§8.3). */
const NONCE_LENGTH = 12;
/** §5.2.1.2: the full 128-bit tag. */
const TAG_LENGTH = 16;
const CODES = { truncated: 'STATE_CORRUPT', trailing: 'STATE_CORRUPT' } as const;

/** A decrypted state file. */
export interface Unsealed {
  readonly generation: bigint;
  readonly state: Uint8Array;
}

/**
 * Seals `state` as generation `generation` under `key` (AES-256) with a fresh random nonce.
 *
 * @example
 * ```ts
 * const file = seal(key, 1n, new TextEncoder().encode('{}'));
 * ```
 */
export function seal(key: KeyObject, generation: bigint, state: Uint8Array): Uint8Array {
  const header = Buffer.alloc(MAGIC.length + 2 + 8 + NONCE_LENGTH);
  header.set(MAGIC, 0);
  header.writeUInt16LE(FORMAT_VERSION, MAGIC.length);
  header.writeBigUInt64LE(generation, MAGIC.length + 2);
  const nonce = randomBytes(NONCE_LENGTH);
  header.set(nonce, MAGIC.length + 10);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH }).setAAD(header);
  const body = Buffer.concat([cipher.update(state), cipher.final(), cipher.getAuthTag()]);
  return new Uint8Array(Buffer.concat([header, body]));
}

interface Parsed {
  readonly header: Uint8Array;
  readonly generation: bigint;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
}

const fail = (field: string, offset: number, message: string) =>
  new CloisterError('STATE_CORRUPT', `${field}: ${message}`, { field, offset });

/** The fields of a state file, through the bounds-checked reader: STATE_CORRUPT naming the field. */
function parse(file: Uint8Array): Parsed {
  const r = new ByteReader(file, CODES);
  if (!equal(r.bytes(MAGIC.length, 'header.magic'), MAGIC)) throw fail('header.magic', 0, 'not a cloister state file');
  const version = r.u16le('header.version');
  if (version !== FORMAT_VERSION)
    throw fail(
      'header.version',
      MAGIC.length,
      `format version ${version} is not supported (this build reads ${FORMAT_VERSION})`,
    );
  const low = r.u32le('header.generation');
  const generation = (BigInt(r.u32le('header.generation')) << 32n) | BigInt(low);
  const nonce = r.bytes(NONCE_LENGTH, 'header.nonce');
  const header = file.subarray(0, r.offset);
  // Shorter than a tag: an empty ciphertext, then the tag read reports the truncation.
  const ciphertext = r.bytes(Math.max(0, r.remaining - TAG_LENGTH), 'ciphertext');
  const tag = r.bytes(TAG_LENGTH, 'tag');
  r.end('file');
  return { header, generation, nonce, ciphertext, tag };
}

/**
 * Parses and decrypts a state file read from `path`. Anything but an intact file sealed under
 * `key` (truncated, wrong magic, unknown version, a changed byte anywhere, another key) throws
 * STATE_CORRUPT naming `path` and what is wrong.
 *
 * @example
 * ```ts
 * const { generation, state } = unseal(key, await readFile(path), path);
 * ```
 */
export function unseal(key: KeyObject, file: Uint8Array, path: string): Unsealed {
  let p: Parsed;
  try {
    p = parse(file);
  } catch (cause) {
    const e = cause as CloisterError;
    throw new CloisterError('STATE_CORRUPT', `${path}: ${e.message}`, {
      path,
      field: e.field ?? 'file',
      offset: e.offset ?? 0,
      cause,
    });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, p.nonce, { authTagLength: TAG_LENGTH })
      .setAAD(p.header)
      .setAuthTag(p.tag);
    return {
      generation: p.generation,
      state: new Uint8Array(Buffer.concat([decipher.update(p.ciphertext), decipher.final()])),
    };
  } catch (cause) {
    // §7.2: a tag mismatch reveals nothing but FAIL: another key, or any byte changed.
    throw new CloisterError(
      'STATE_CORRUPT',
      `${path}: authentication failed: sealed under another key, or changed since it was written`,
      { path, field: 'tag', cause },
    );
  }
}
