import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_LENGTH } from '../format.js';
import {
  AUTH_FAILED,
  GCM,
  NONCE_LENGTH,
  chunkError,
  chunkOffset,
  nonce,
  type ChunkContext,
  type Emit,
} from './chunks.js';

/**
 * Sealing and opening whole chunks at once: a run of consecutive chunks, from bytes to bytes, for
 * file-to-file work and worker threads. STREAM chunks are independent (chunk i's nonce is its
 * index and last-chunk flag, its AAD the header hash), so runs of one file can be sealed or
 * opened in any order and on any thread; only the root hash takes the tags in order, which the
 * caller does with the tags each run returns. The output is the same as the state machines of
 * chunks.ts give for the same chunks, byte for byte.
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
  for (let first = 0; first < ctx.count; first += perRun)
    runs.push({ first, count: Math.min(perRun, ctx.count - first) });
  return runs;
}

/** Calls `each(index, plain offset in the run, sealed offset in the run, plaintext length)` for every chunk of `run`. */
function forEachChunk(
  ctx: Sizes,
  run: ChunkRun,
  each: (index: number, plainAt: number, sealedAt: number, length: number) => void,
): void {
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
 * Where a run's output goes: a buffer of exactly its length, filled in order, or a function
 * handed each piece as Node's cipher returned it (no copy), in order.
 */
export type RunSink = Uint8Array | Emit;

/** `sink` as a function of a piece and its offset in the run's output. */
const place = (sink: RunSink): ((bytes: Buffer, at: number) => void) =>
  typeof sink === 'function' ? sink : (bytes, at) => void bytes.copy(sink, at);

/**
 * Encrypts the plaintext of `run` (`plain`, exactly its span's plaintext length) into `out`:
 * ciphertext ‖ tag for each chunk, the run's sealed bytes. Returns the tags in chunk order, for
 * the root hash.
 *
 * @example
 * ```ts
 * const tags = sealRun(ctx, { first: 16, count: 16 }, plain.subarray(1 << 20, 2 << 20), out);
 * ```
 */
export function sealRun(ctx: ChunkContext, run: ChunkRun, plain: Uint8Array, out: RunSink): Uint8Array[] {
  const iv = Buffer.alloc(NONCE_LENGTH);
  const put = place(out);
  const tags: Uint8Array[] = [];
  forEachChunk(ctx, run, (i, plainAt, sealedAt, length) => {
    const cipher = createCipheriv('aes-256-gcm', ctx.key, nonce(iv, i, i === ctx.count - 1), GCM).setAAD(ctx.aad);
    put(cipher.update(plain.subarray(plainAt, plainAt + length)), sealedAt);
    cipher.final(); // GCM: empty, as update returned all the ciphertext
    const tag = cipher.getAuthTag();
    put(tag, sealedAt + length);
    tags.push(tag);
  });
  return tags;
}

/**
 * Authenticates and decrypts the chunks of `run` (`sealed`, exactly its span's sealed length)
 * into `out` (its plaintext length), in order, each chunk's plaintext only once it has
 * authenticated; the first chunk that fails is PROTECTED_INTEGRITY naming the file and the
 * chunk, as the chunk opener reports it. Returns the tags in chunk order (views of `sealed`).
 *
 * @example
 * ```ts
 * const tags = openRun(ctx, { first: 0, count: 16 }, sealedBytes, plaintextOut);
 * ```
 */
export function openRun(ctx: ChunkContext, run: ChunkRun, sealed: Uint8Array, out: RunSink): Uint8Array[] {
  const iv = Buffer.alloc(NONCE_LENGTH);
  const put = place(out);
  const tags: Uint8Array[] = [];
  forEachChunk(ctx, run, (i, plainAt, sealedAt, length) => {
    const decipher = createDecipheriv('aes-256-gcm', ctx.key, nonce(iv, i, i === ctx.count - 1), GCM).setAAD(ctx.aad);
    const tag = sealed.subarray(sealedAt + length, sealedAt + length + TAG_LENGTH);
    decipher.setAuthTag(tag);
    const plain = decipher.update(sealed.subarray(sealedAt, sealedAt + length));
    try {
      decipher.final();
    } catch (cause) {
      throw chunkError(ctx, 'PROTECTED_INTEGRITY', i, AUTH_FAILED, cause);
    }
    put(plain, plainAt);
    tags.push(tag);
  });
  return tags;
}
