import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { CloisterError } from '../../src/lib/errors.js';

/** A fresh temporary directory, removed when the test file ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cloister-store-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An assert.rejects predicate: a CloisterError with `code` (and `path`, when given). */
export const code = (expected: string, path?: string) => (e: unknown) =>
  e instanceof CloisterError && e.code === expected && (path === undefined || e.path === path);

export const KEY = new Uint8Array(32).fill(0x42);
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * A state file built from the format's description, independently of src/store: magic,
 * u16le version, u64le generation, 12-byte nonce, AES-256-GCM(ciphertext ‖ tag) with the header
 * as additional data.
 */
export function sealIndependently(
  key: Uint8Array,
  state: Uint8Array,
  options: { version?: number; generation?: bigint; nonce?: Uint8Array } = {},
): Uint8Array {
  const header = Buffer.alloc(36);
  header.write('CLOISTER-STATE', 0, 'ascii');
  header.writeUInt16LE(options.version ?? 1, 14);
  header.writeBigUInt64LE(options.generation ?? 1n, 16);
  header.set(options.nonce ?? randomBytes(12), 24);
  const cipher = createCipheriv('aes-256-gcm', key, header.subarray(24, 36)).setAAD(header);
  return new Uint8Array(Buffer.concat([header, cipher.update(state), cipher.final(), cipher.getAuthTag()]));
}

/** The generation field of a state file. */
export const generationOf = (file: Uint8Array): bigint =>
  Buffer.from(file.buffer, file.byteOffset, file.byteLength).readBigUInt64LE(16);
