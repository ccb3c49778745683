import {
  createCipheriv,
  createDecipheriv,
  createHash,
  type CipherGCM,
  type DecipherGCM,
  type Hash,
  type KeyObject,
} from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { HEADER_LENGTH, TAG_LENGTH } from '../format.js';

/**
 * The chunks of a protected file in the STREAM construction of Hoang, Reyhanitabar, Rogaway and
 * Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance" (CRYPTO 2015,
 * §7): chunk i is AES-256-GCM under the file key with nonce = i as an 11-byte big-endian counter
 * ‖ one byte that is 1 for the final chunk and 0 otherwise (as age does). Reordering, dropping
 * or duplicating chunks changes a chunk's nonce, so its tag fails; dropping the tail leaves a
 * final chunk sealed with flag 0; appending leaves bytes after the flag-1 chunk. The SHA-256 of
 * the header is every chunk's associated data (NIST SP 800-38D §7.1: the AAD is authenticated
 * with the ciphertext), binding each chunk to this header's salt, version, length and path.
 *
 * Both state machines take the sealed or plain bytes in pieces of any size (so streams need no
 * reassembly copies) and call `emit` with output in order; the opener emits a chunk's plaintext
 * only after that chunk's tag has verified.
 */

/** Everything the chunks of one file need, derived once per file. */
export interface ChunkContext {
  readonly key: KeyObject;
  /** SHA-256 of the header. */
  readonly aad: Uint8Array;
  readonly chunkSize: number;
  readonly length: number;
  readonly count: number;
  /** The name errors give the file. */
  readonly name: string;
}

/** Receives output bytes in order; the buffer is the receiver's to keep. */
export type Emit = (bytes: Buffer) => void;

export const NONCE_LENGTH = 12;
/** NIST SP 800-38D §5.2.1.2: the tag length is fixed, so a decipher refuses shorter tags. */
export const GCM = { authTagLength: TAG_LENGTH } as const;

/** SP 800-38D §7.2: FAIL says nothing more; name what can cause it. */
export const AUTH_FAILED =
  'fails authentication: changed, moved within the file, or taken from another file or version';

/** The byte offset of chunk `index` in the sealed file. */
export function chunkOffset(ctx: Pick<ChunkContext, 'chunkSize'>, index: number): number {
  return HEADER_LENGTH + index * (ctx.chunkSize + TAG_LENGTH);
}

/** A seal whose input is not of the length declared in the header: `actual` says how many bytes came. */
export function lengthError(ctx: ChunkContext, actual: string): CloisterError {
  return new CloisterError(
    'PROTECTED_OPTIONS_INVALID',
    `${ctx.name}: the input is ${actual} bytes, not the declared length ${ctx.length}`,
    {
      field: 'length',
      path: ctx.name,
      expected: ctx.length,
      actual,
    },
  );
}

/** The refusal of chunk `chunk`, naming the file and the chunk: "NAME: chunk i of n WHAT". */
export function chunkError(
  ctx: ChunkContext,
  code: 'PROTECTED_INTEGRITY' | 'PROTECTED_TRUNCATED',
  chunk: number,
  what: string,
  cause?: unknown,
): CloisterError {
  const { name, count } = ctx;
  return new CloisterError(code, `${name}: chunk ${chunk} of ${count} ${what}`, {
    path: name,
    chunk,
    offset: chunkOffset(ctx, chunk),
    field: `chunks[${chunk}]`,
    cause,
  });
}

/** The STREAM nonce of chunk `index`: 11-byte big-endian counter (index < 2^53, so bytes 0..2 stay 0) ‖ last-chunk flag. */
export function nonce(out: Buffer, index: number, last: boolean): Buffer {
  out.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 3);
  out.writeUInt32BE(index >>> 0, 7);
  out[NONCE_LENGTH - 1] = last ? 1 : 0;
  return out;
}

/** What both directions share: the position in the chunk sequence and the running root hash. */
abstract class ChunkCursor {
  protected index = 0;
  /** Plaintext (or ciphertext) bytes of the current chunk processed so far. */
  protected filled = 0;
  protected readonly nonce = Buffer.alloc(NONCE_LENGTH);
  /** SHA-256(header ‖ tag 0 ‖ … ‖ tag n-1). */
  protected readonly root: Hash;

  constructor(
    protected readonly ctx: ChunkContext,
    header: Uint8Array,
  ) {
    this.root = createHash('sha256').update(header);
  }

  /** The plaintext length of the current chunk: S for all but the last. */
  protected current(): number {
    const { count, chunkSize, length } = this.ctx;
    return this.index < count - 1 ? chunkSize : length - (count - 1) * chunkSize;
  }

  protected iv(): Buffer {
    return nonce(this.nonce, this.index, this.index === this.ctx.count - 1);
  }

  /** Records the tag of the chunk just completed and moves to the next one. */
  protected advance(tag: Uint8Array): void {
    this.root.update(tag);
    this.index += 1;
    this.filled = 0;
  }
}

/** Encrypts plaintext pieces into chunks. */
export class ChunkSealer extends ChunkCursor {
  private cipher: CipherGCM | undefined;

  constructor(ctx: ChunkContext, header: Uint8Array) {
    super(ctx, header);
    this.cipher = this.begin();
  }

  private begin(): CipherGCM {
    return createCipheriv('aes-256-gcm', this.ctx.key, this.iv(), GCM).setAAD(this.ctx.aad);
  }

  private lengthError(actual: string): CloisterError {
    return lengthError(this.ctx, actual);
  }

  private finish(cipher: CipherGCM, emit: Emit): void {
    cipher.final(); // GCM: empty, as update returned all the ciphertext
    const tag = cipher.getAuthTag();
    emit(tag);
    this.advance(tag);
    this.cipher = this.index < this.ctx.count ? this.begin() : undefined;
  }

  write(piece: Uint8Array, emit: Emit): void {
    let at = 0;
    while (at < piece.length) {
      const cipher = this.cipher;
      if (cipher === undefined) throw this.lengthError(`more than ${this.ctx.length}`);
      const take = Math.min(piece.length - at, this.current() - this.filled);
      if (take > 0) emit(cipher.update(piece.subarray(at, at + take)));
      at += take;
      this.filled += take;
      if (this.filled === this.current()) this.finish(cipher, emit);
    }
  }

  /** Seals what remains (the one empty chunk of an empty file) and returns the root. */
  end(emit: Emit): Uint8Array {
    const cipher = this.cipher;
    if (cipher !== undefined && this.filled === this.current()) this.finish(cipher, emit);
    if (this.cipher !== undefined) throw this.lengthError(`only ${this.index * this.ctx.chunkSize + this.filled}`);
    return new Uint8Array(this.root.digest());
  }
}

/** Decrypts sealed pieces chunk by chunk, releasing a chunk's plaintext only once its tag verifies. */
export class ChunkOpener extends ChunkCursor {
  private decipher: DecipherGCM | undefined;
  private readonly tag = Buffer.alloc(TAG_LENGTH);
  private tagFilled = 0;
  /** Plaintext of the current chunk, held until its tag verifies. */
  private pending: Buffer[] = [];

  constructor(ctx: ChunkContext, header: Uint8Array) {
    super(ctx, header);
    this.decipher = this.begin();
  }

  private begin(): DecipherGCM {
    return createDecipheriv('aes-256-gcm', this.ctx.key, this.iv(), GCM).setAAD(this.ctx.aad);
  }

  private refuse(
    code: 'PROTECTED_INTEGRITY' | 'PROTECTED_TRUNCATED',
    chunk: number,
    what: string,
    cause?: unknown,
  ): CloisterError {
    return chunkError(this.ctx, code, chunk, what, cause);
  }

  private finish(decipher: DecipherGCM, tag: Uint8Array, emit: Emit): void {
    decipher.setAuthTag(tag);
    try {
      decipher.final();
    } catch (cause) {
      throw this.refuse('PROTECTED_INTEGRITY', this.index, AUTH_FAILED, cause);
    }
    for (const plain of this.pending) emit(plain);
    this.pending = [];
    this.advance(tag);
    this.tagFilled = 0;
    this.decipher = this.index < this.ctx.count ? this.begin() : undefined;
  }

  write(piece: Uint8Array, emit: Emit): void {
    let at = 0;
    while (at < piece.length) {
      const decipher = this.decipher;
      if (decipher === undefined) {
        throw this.refuse(
          'PROTECTED_INTEGRITY',
          this.index,
          `follows the final chunk: ${piece.length - at} unexpected bytes (the file was extended)`,
        );
      }
      const text = Math.min(piece.length - at, this.current() - this.filled);
      if (text > 0) {
        this.pending.push(decipher.update(piece.subarray(at, at + text)));
        at += text;
        this.filled += text;
        continue;
      }
      const take = Math.min(piece.length - at, TAG_LENGTH - this.tagFilled);
      // A whole tag inside this piece is used in place; one split across pieces is gathered.
      const whole = take === TAG_LENGTH ? piece.subarray(at, at + TAG_LENGTH) : undefined;
      if (whole === undefined) this.tag.set(piece.subarray(at, at + take), this.tagFilled);
      at += take;
      this.tagFilled += take;
      if (this.tagFilled === TAG_LENGTH) this.finish(decipher, whole ?? this.tag, emit);
    }
  }

  /** Refuses a file that ended inside a chunk or before its final one; returns the root. */
  end(): Uint8Array {
    if (this.decipher !== undefined)
      throw this.refuse('PROTECTED_TRUNCATED', this.index, 'is incomplete: the file ends early (truncated)');
    return new Uint8Array(this.root.digest());
  }
}
