import { createHash, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { HEADER_OFFSETS, MAC_INPUT_LENGTH } from '../format.js';

/**
 * Key derivation for protected files (RFC 5869, HKDF-SHA256). One derivation per file, none
 * per chunk: the chunk nonces make every chunk's (key, nonce) pair unique.
 */

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The HKDF `info` labels: the one table of the format's domain separations. */
export const LABELS = {
  /** Prefix of the per-file info: label ‖ path hash (32) ‖ version (u64 little-endian). */
  file: utf8('cloister protected file v1'),
  /** Info of the volume key id (salt empty, so RFC 5869 §2.2's HashLen zero bytes). */
  keyId: utf8('cloister volume key id v1'),
} as const;

/** The length of the volume key id in the header. */
const KEY_ID_LENGTH = 16;
const AES_256_KEY_LENGTH = 32;
const MAC_KEY_LENGTH = 32;

/** SHA-256 of the UTF-8 path: what the header records, so paths themselves never appear in it. */
export function hashPath(path: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(path, 'utf8').digest());
}

/** Identifies a volume key without revealing it: HKDF-SHA256(volumeKey, "", "cloister volume key id v1", 16). */
export function volumeKeyId(volumeKey: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', volumeKey, new Uint8Array(0), LABELS.keyId, KEY_ID_LENGTH));
}

/** The per-file keys: AES-256-GCM for the chunks and HMAC-SHA256 for the header. */
export interface FileKeys {
  readonly cipher: KeyObject;
  readonly mac: KeyObject;
}

/**
 * HKDF-SHA256(IKM = volume key, salt = header salt, info = label ‖ path hash ‖ u64le(version),
 * L = 64): the first 32 bytes are the AES-256 key, the last 32 the header's HMAC key. A new salt
 * per seal gives a new key per seal (so nonces never repeat under a key); the path hash and
 * version in `info` make a file moved to another path, or restored with an edited version
 * field, fail authentication.
 */
export function fileKeys(volumeKey: Uint8Array, salt: Uint8Array, pathHash: Uint8Array, version: bigint): FileKeys {
  const info = Buffer.alloc(LABELS.file.length + pathHash.length + 8);
  info.set(LABELS.file, 0);
  info.set(pathHash, LABELS.file.length);
  info.writeBigUInt64LE(version, LABELS.file.length + pathHash.length);
  const okm = new Uint8Array(hkdfSync('sha256', volumeKey, salt, info, AES_256_KEY_LENGTH + MAC_KEY_LENGTH));
  const keys = {
    cipher: createSecretKey(okm.subarray(0, AES_256_KEY_LENGTH)),
    mac: createSecretKey(okm.subarray(AES_256_KEY_LENGTH)),
  };
  okm.fill(0);
  return keys;
}

/** HMAC-SHA256 over the header's first 118 bytes (everything before the MAC field). */
export function headerMac(macKey: KeyObject, header: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', macKey).update(header.subarray(0, MAC_INPUT_LENGTH)).digest());
}

/** Writes the MAC into a header built by `encodeHeader`. */
export function signHeader(macKey: KeyObject, header: Uint8Array): void {
  header.set(headerMac(macKey, header), HEADER_OFFSETS.mac);
}

/** SHA-256 of the whole header: the associated data of every chunk (NIST SP 800-38D §5.2.1.1, the AAD). */
export function headerHash(header: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(header).digest());
}
