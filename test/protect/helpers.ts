import { createCipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { CloisterError } from '../../src/lib/errors.js';

/**
 * Test helpers, and an implementation of docs/protected-files.md written from the document
 * alone (no import from src/protect), which the tests check against the real one.
 */

export const KEY = new Uint8Array(32).fill(0x42);
export const OTHER_KEY = new Uint8Array(32).fill(0x17);
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
/** `n` bytes of a deterministic pattern (so failures print something recognisable). */
export const bytesOf = (n: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** The fixed sizes of the format, from the document. */
export const HEADER = 150;
export const TAG = 16;

/** A predicate for assert.throws/rejects: a CloisterError with `code`, and `chunk` and `path` when given. */
export const code =
  (expected: string, more: { chunk?: number; path?: string } = {}) =>
  (e: unknown) => {
    if (!(e instanceof CloisterError)) throw e;
    if (e.code !== expected) throw new Error(`expected ${expected}, got ${e.code}: ${e.message}`);
    if (more.chunk !== undefined && e.chunk !== more.chunk)
      throw new Error(`expected chunk ${more.chunk}, got ${e.chunk}: ${e.message}`);
    if (more.path !== undefined && e.path !== more.path)
      throw new Error(`expected path ${more.path}, got ${e.path}: ${e.message}`);
    return true;
  };

/** The sealed bytes of chunk `i` (ciphertext and tag) of a file with chunk size `s`. */
export function chunkAt(sealed: Uint8Array, s: number, i: number): Uint8Array {
  const start = HEADER + i * (s + TAG);
  return sealed.subarray(start, Math.min(sealed.length, start + s + TAG));
}

/** The chunks of a sealed file, each ciphertext ‖ tag. */
export function chunksOf(sealed: Uint8Array, s: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = HEADER; at < sealed.length; at += s + TAG)
    out.push(sealed.subarray(at, Math.min(sealed.length, at + s + TAG)));
  return out;
}

export const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** A copy of `bytes` with bit 0 of byte `at` flipped. */
export function flip(bytes: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at] = (copy[at] as number) ^ 1;
  return copy;
}

/** A fresh temporary directory, removed when the test file ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cloister-protect-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface Independent {
  volumeKey: Uint8Array;
  path: string;
  version: bigint;
  chunkSize: number;
  salt?: Uint8Array;
}

/** docs/protected-files.md, "Header", "Keys", "Chunks" and "Root", step by step. */
export function sealIndependently(plaintext: Uint8Array, o: Independent): { sealed: Uint8Array; root: Uint8Array } {
  const salt = o.salt ?? randomBytes(32);
  const pathHash = createHash('sha256').update(Buffer.from(o.path, 'utf8')).digest();
  const keyId = Buffer.from(
    hkdfSync('sha256', o.volumeKey, Buffer.alloc(0), Buffer.from('cloister volume key id v1'), 16),
  );
  const versionLe = Buffer.alloc(8);
  versionLe.writeBigUInt64LE(o.version);
  const okm = Buffer.from(
    hkdfSync(
      'sha256',
      o.volumeKey,
      salt,
      Buffer.concat([Buffer.from('cloister protected file v1'), pathHash, versionLe]),
      64,
    ),
  );
  const header = Buffer.alloc(150);
  header.write('CLOISTER-PROTECT', 0, 'ascii');
  header.writeUInt16LE(1, 16);
  header.writeUInt32LE(o.chunkSize, 18);
  Buffer.from(salt).copy(header, 22);
  header.writeBigUInt64LE(o.version, 54);
  header.writeBigUInt64LE(BigInt(plaintext.length), 62);
  pathHash.copy(header, 70);
  keyId.copy(header, 102);
  createHmac('sha256', okm.subarray(32)).update(header.subarray(0, 118)).digest().copy(header, 118);
  const aad = createHash('sha256').update(header).digest();
  const n = Math.max(1, Math.ceil(plaintext.length / o.chunkSize));
  const parts: Buffer[] = [header];
  const root = createHash('sha256').update(header);
  for (let i = 0; i < n; i++) {
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(BigInt(i), 3);
    nonce[11] = i === n - 1 ? 1 : 0;
    const cipher = createCipheriv('aes-256-gcm', okm.subarray(0, 32), nonce).setAAD(aad);
    parts.push(cipher.update(plaintext.subarray(i * o.chunkSize, (i + 1) * o.chunkSize)), cipher.final());
    const tag = cipher.getAuthTag();
    parts.push(tag);
    root.update(tag);
  }
  return { sealed: new Uint8Array(Buffer.concat(parts)), root: new Uint8Array(root.digest()) };
}
