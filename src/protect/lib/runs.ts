import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_LENGTH } from '../format.js';
import { AUTH_FAILED, GCM, NONCE_LENGTH, chunkError, chunkOffset, nonce, type ChunkContext } from './chunks.js';

/**
 * Sealing and opening whole chunks at once: a run of consecutive chunks, from bytes to bytes, for
 * file-to-file work and worker threads. STREAM chunks are independent (chunk i's nonce is its
 * index and last-chunk flag, its AAD the header hash), so runs of one file can be sealed or
 * opened in any order and on any thread; only the root hash takes the tags in order, which the
 * caller does with {@link runTags}. The output is the same as the state machines of chunks.ts
 * give for the same chunks, byte for byte.
 */

/** Chunks `first` ..= `first + count - 1` of one file. */
export interface ChunkRun {
  readonly first: number;
  readonly count: number;
}

/** Where a run lies: `plain` in the plaintext, `sealed` in the protected file (both [offset, offset + length)). */
export interface RunSpan {
  readonly plain: { readonly offset: number; readonly length: number };
  readonly sealed: { readonly offset: number; readonly length: number };
}

type Sizes = Pick<ChunkContext, 'chunkSize' | 'length' | 'count'>;

/** The plaintext length of chunk `index`: S for all but the last (docs/protected-files.md, "Layout"). */
function chunkLength(ctx: Sizes, index: number): number {
  return index < ctx.count - 1 ? ctx.chunkSize : ctx.length - (ctx.count - 1) * ctx.chunkSize;
}

/** The byte ranges of `run` in the plaintext and in the sealed file. */
export function runSpan(ctx: Sizes, run: ChunkRun): RunSpan {
  const last = run.first + run.count - 1;
  const plainOffset = run.first * ctx.chunkSize;
  const plainLength = (run.count - 1) * ctx.chunkSize + chunkLength(ctx, last);
  return {
    plain: { offset: plainOffset, length: plainLength },
    sealed: { offset: chunkOffset(ctx, run.first), length: plainLength + run.count * TAG_LENGTH },
  };
}

/**
 * The file's chunks cut into runs of at most `perRun` chunks, in order.
 *
 * @example
 * ```ts
 * runsOf({ chunkSize: 65536, length: 5 << 20, count: 80 }, 16); // 5 runs of 16 chunks
 * ```
 */
export function runsOf(ctx: Pick<ChunkContext, 'count'>, perRun: number): ChunkRun[] {
  const runs: ChunkRun[] = [];
  for (let first = 0; first < ctx.count; first += perRun) runs.push({ first, count: Math.min(perRun, ctx.count - first) });
  return runs;
}

/** Calls `each(index, plain offset in the run, sealed offset in the run, plaintext length)` for every chunk of `run`. */
function forEachChunk(ctx: Sizes, run: ChunkRun, each: (index: number, plainAt: number, sealedAt: number, length: number) => void): void {
  let plainAt = 0;
  let sealedAt = 0;
  for (let i = run.first; i < run.first + run.count; i++) {
    const length = chunkLength(ctx, i);
    each(i, plainAt, sealedAt, length);
    plainAt += length;
    sealedAt += length + TAG_LENGTH;
  }
}

/**
 * Encrypts the plaintext of `run` (`plain`, exactly its span's plaintext length) into `out`
 * (its sealed length): ciphertext ‖ tag for each chunk.
 *
 * @example
 * ```ts
 * sealRun(ctx, { first: 16, count: 16 }, plain.subarray(1 << 20, 2 << 20), out);
 * ```
 */
export function sealRun(ctx: ChunkContext, run: ChunkRun, plain: Uint8Array, out: Uint8Array): void {
  const iv = Buffer.alloc(NONCE_LENGTH);
  forEachChunk(ctx, run, (i, plainAt, sealedAt, length) => {
    const cipher = createCipheriv('aes-256-gcm', ctx.key, nonce(iv, i, i === ctx.count - 1), GCM).setAAD(ctx.aad);
    cipher.update(plain.subarray(plainAt, plainAt + length)).copy(out, sealedAt);
    cipher.final(); // GCM: empty, as update returned all the ciphertext
    cipher.getAuthTag().copy(out, sealedAt + length);
  });
}

/**
 * Authenticates and decrypts the chunks of `run` (`sealed`, exactly its span's sealed length)
 * into `out` (its plaintext length), in order; the first chunk that fails authentication is
 * PROTECTED_INTEGRITY naming the file and the chunk, as the chunk opener reports it. `out` then
 * holds plaintext of unauthenticated bytes too: the caller discards it.
 *
 * @example
 * ```ts
 * openRun(ctx, { first: 0, count: 16 }, sealedBytes, plaintextOut);
 * ```
 */
export function openRun(ctx: ChunkContext, run: ChunkRun, sealed: Uint8Array, out: Uint8Array): void {
  const iv = Buffer.alloc(NONCE_LENGTH);
  forEachChunk(ctx, run, (i, plainAt, sealedAt, length) => {
    const decipher = createDecipheriv('aes-256-gcm', ctx.key, nonce(iv, i, i === ctx.count - 1), GCM).setAAD(ctx.aad);
    decipher.setAuthTag(sealed.subarray(sealedAt + length, sealedAt + length + TAG_LENGTH));
    decipher.update(sealed.subarray(sealedAt, sealedAt + length)).copy(out, plainAt);
    try {
      decipher.final();
    } catch (cause) {
      throw chunkError(ctx, 'PROTECTED_INTEGRITY', i, AUTH_FAILED, cause);
    }
  });
}

/** The tags of `run` within its sealed bytes, in chunk order: what the root hash takes after the header. */
export function runTags(ctx: Sizes, run: ChunkRun, sealed: Uint8Array): Uint8Array[] {
  const tags: Uint8Array[] = [];
  forEachChunk(ctx, run, (_i, _plainAt, sealedAt, length) => void tags.push(sealed.subarray(sealedAt + length, sealedAt + length + TAG_LENGTH)));
  return tags;
}
