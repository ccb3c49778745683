import { randomBytes } from 'node:crypto';
import { chunkCount, encodeHeader } from '../format.js';
import { ChunkSealer, type ChunkContext, type Emit } from './chunks.js';
import { fileKeys, headerHash, signHeader, volumeKeyId } from './keys.js';
import type { SealParams } from './options.js';

const SALT_LENGTH = 32;

/**
 * Seals one file in pieces: `start` emits the header, `write` the chunks as plaintext arrives,
 * `end` the last tag and returns the root. The length goes in the header, so it is declared up
 * front and any other input length is refused.
 */
export class FileSealer {
  private readonly chunks: ChunkSealer;
  readonly header: Buffer;
  /** What the chunks need: for sealing whole runs of chunks instead of pieces (runs.ts). */
  readonly ctx: ChunkContext;

  /** `salt` is for known-answer tests only; every seal otherwise draws a fresh one. */
  constructor(p: SealParams, length: number, salt: Uint8Array = randomBytes(SALT_LENGTH)) {
    const keys = fileKeys(p.volumeKey, salt, p.pathHash, p.version);
    this.header = encodeHeader({
      chunkSize: p.chunkSize,
      salt,
      version: p.version,
      length,
      pathHash: p.pathHash,
      keyId: volumeKeyId(p.volumeKey),
    });
    signHeader(keys.mac, this.header);
    this.ctx = {
      key: keys.cipher,
      aad: headerHash(this.header),
      chunkSize: p.chunkSize,
      length,
      count: chunkCount(length, p.chunkSize),
      name: p.name,
    };
    this.chunks = new ChunkSealer(this.ctx, this.header);
  }

  write(plaintext: Uint8Array, emit: Emit): void {
    this.chunks.write(plaintext, emit);
  }

  /** Emits the final tag (for an empty file, the one empty chunk) and returns the root. */
  end(emit: Emit): Uint8Array {
    return this.chunks.end(emit);
  }
}
