import { CloisterError, type ErrorCode } from './errors.js';

/**
 * The one bounds-checked binary reader. Every read names its field; a read past the end throws
 * the reader's `truncated` code with the field and offset, and {@link ByteReader.end} refuses
 * trailing bytes. Reads return views (no copies).
 *
 * @example
 * ```ts
 * const r = new ByteReader(bytes, { truncated: 'QUOTE_TRUNCATED', trailing: 'QUOTE_TRAILING_BYTES' });
 * const version = r.u16le('header.version');
 * const reportData = r.bytes(64, 'report.reportData');
 * r.end('quote');
 * ```
 */
export interface ReaderCodes {
  truncated: ErrorCode;
  trailing: ErrorCode;
}

export class ByteReader {
  readonly buf: Uint8Array;
  /** Absolute offset of `buf[0]` within the outermost input, for error messages. */
  readonly base: number;
  readonly codes: ReaderCodes;
  private pos = 0;

  constructor(buf: Uint8Array, codes: ReaderCodes, base = 0) {
    this.buf = buf;
    this.codes = codes;
    this.base = base;
  }

  /** Current offset relative to this reader's start. */
  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private take(n: number, field: string): number {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.buf.length - this.pos) {
      throw new CloisterError(
        this.codes.truncated,
        `${field}: needs ${n} bytes at offset ${this.base + this.pos}, ${this.buf.length - this.pos} left`,
        { field, offset: this.base + this.pos, expected: n, actual: this.buf.length - this.pos },
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(field: string): number {
    return this.buf[this.take(1, field)] as number;
  }

  u16le(field: string): number {
    const at = this.take(2, field);
    return (this.buf[at] as number) | ((this.buf[at + 1] as number) << 8);
  }

  u32le(field: string): number {
    const at = this.take(4, field);
    const b = this.buf;
    return (
      ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) +
      (b[at + 3] as number) * 0x1000000
    );
  }

  /** `n` bytes as a view into the input. */
  bytes(n: number, field: string): Uint8Array {
    const at = this.take(n, field);
    return this.buf.subarray(at, at + n);
  }

  /** A reader over the next `n` bytes, which it consumes from this one. */
  sub(n: number, field: string, codes: ReaderCodes = this.codes): ByteReader {
    const at = this.take(n, field);
    return new ByteReader(this.buf.subarray(at, at + n), codes, this.base + at);
  }

  /** Everything not yet read. */
  rest(): Uint8Array {
    const at = this.pos;
    this.pos = this.buf.length;
    return this.buf.subarray(at);
  }

  /** Refuses trailing bytes: the structure named `field` must end exactly here. */
  end(field: string): void {
    if (this.pos !== this.buf.length) {
      throw new CloisterError(
        this.codes.trailing,
        `${field}: ${this.buf.length - this.pos} unexpected bytes at offset ${this.base + this.pos}`,
        { field, offset: this.base + this.pos, actual: this.buf.length - this.pos },
      );
    }
  }
}
