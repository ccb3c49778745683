import { CloisterError } from './errors.js';
import { ByteReader } from './reader.js';

/**
 * Minimal DER (ITU-T X.690 §8, §10) reader over the one bounds-checked reader. It sits in lib/,
 * beside `der-writer.ts`, because both attest/ (X.509, PCK and AMD extensions) and the PKI use
 * its tags and walker, and lib/ imports nothing above it.
 */

const CODES = { truncated: 'DER_MALFORMED', trailing: 'DER_MALFORMED' } as const;

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

export interface Tlv {
  tag: number;
  /** The content octets. */
  value: Uint8Array;
  /** The whole element, header included (what a signature covers for a TBS structure). */
  raw: Uint8Array;
  /** Absolute offset of the element in the outermost input. */
  offset: number;
}

/** A reader of consecutive DER elements. @example `const seq = Der.of(bytes).expect(TAG.SEQUENCE, 'cert')` */
export class Der {
  private readonly r: ByteReader;

  private constructor(r: ByteReader) {
    this.r = r;
  }

  static of(bytes: Uint8Array, base = 0): Der {
    return new Der(new ByteReader(bytes, CODES, base));
  }

  get done(): boolean {
    return this.r.remaining === 0;
  }

  /** The tag of the next element without consuming it, or `undefined` at the end. */
  peekTag(): number | undefined {
    return this.r.remaining === 0 ? undefined : this.r.buf[this.r.offset];
  }

  next(field: string): Tlv {
    const start = this.r.offset;
    const tag = this.r.u8(`${field}.tag`);
    // High-tag-number form (tag 31) is not used by any structure cloister reads.
    if ((tag & 0x1f) === 0x1f) throw malformed(field, this.r.base + start, 'high tag numbers are not supported');
    let length = this.r.u8(`${field}.length`);
    if (length & 0x80) {
      const count = length & 0x7f;
      // X.690 §10.1: definite form, minimal length octets; 4 octets address far more than any input.
      if (count === 0 || count > 4) throw malformed(field, this.r.base + start, 'unsupported length form');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + this.r.u8(`${field}.length`);
      if (length < 0x80 || (count > 1 && length < 256 ** (count - 1)))
        throw malformed(field, this.r.base + start, 'non-minimal length');
    }
    const value = this.r.bytes(length, field);
    return { tag, value, raw: this.r.buf.subarray(start, this.r.offset), offset: this.r.base + start };
  }

  /** The next element, which must carry `tag`. */
  expect(tag: number, field: string): Tlv {
    const tlv = this.next(field);
    if (tlv.tag !== tag)
      throw malformed(field, tlv.offset, `expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`);
    return tlv;
  }

  /** The next element when it carries `tag`, else nothing is consumed. */
  optional(tag: number, field: string): Tlv | undefined {
    return this.peekTag() === tag ? this.next(field) : undefined;
  }

  /** A reader over the content of the next constructed element with `tag`. */
  enter(tag: number, field: string): Der {
    const tlv = this.expect(tag, field);
    return Der.of(tlv.value, tlv.offset + (tlv.raw.length - tlv.value.length));
  }

  end(field: string): void {
    this.r.end(field);
  }
}

export function inner(tlv: Tlv): Der {
  return Der.of(tlv.value, tlv.offset + (tlv.raw.length - tlv.value.length));
}

export function malformed(field: string, offset: number, why: string): CloisterError {
  return new CloisterError('DER_MALFORMED', `${field}: ${why} (offset ${offset})`, { field, offset });
}

/** Dotted OID text of an OBJECT IDENTIFIER's content (X.690 §8.19). @example `oidText(tlv.value)` → `'2.5.29.19'` */
export function oidText(value: Uint8Array): string {
  if (value.length === 0) throw malformed('oid', 0, 'empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const b = value[i] as number;
    if (n === 0 && b === 0x80) throw malformed('oid', i, 'non-minimal OID arc');
    n = n * 128 + (b & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) throw malformed('oid', i, 'OID arc too large');
    if (!(b & 0x80)) {
      if (arcs.length === 0) arcs.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
      else arcs.push(n);
      n = 0;
    } else if (i === value.length - 1) throw malformed('oid', i, 'truncated OID arc');
  }
  return arcs.join('.');
}

/** A non-negative INTEGER small enough for a JS number (SVNs, versions). */
export function smallUint(tlv: Tlv, field: string): number {
  const v = tlv.value;
  if (v.length === 0 || v.length > 7 || ((v[0] as number) & 0x80) !== 0)
    throw malformed(field, tlv.offset, 'not a small non-negative INTEGER');
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** Canonical lowercase hex of an INTEGER's value without leading zero octets (serial numbers). */
export function integerHex(tlv: Tlv, field: string): string {
  if (tlv.value.length === 0) throw malformed(field, tlv.offset, 'empty INTEGER');
  let i = 0;
  while (i < tlv.value.length - 1 && tlv.value[i] === 0) i++;
  return Buffer.from(tlv.value.subarray(i)).toString('hex');
}

/** UTCTime or GeneralizedTime (RFC 5280 §4.1.2.5) in Unix seconds. */
export function timeSeconds(tlv: Tlv, field: string): number {
  const text = Buffer.from(tlv.value).toString('latin1');
  const m =
    tlv.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : tlv.tag === TAG.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (!m) throw malformed(field, tlv.offset, 'not a UTCTime or GeneralizedTime in Z form');
  let year = Number(m[1]);
  if (tlv.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900; // RFC 5280 §4.1.2.5.1
  const [mo, d, h, mi, s] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
    throw malformed(field, tlv.offset, 'time out of range');
  const ms = Date.UTC(year, mo - 1, d, h, mi, s);
  if (new Date(ms).getUTCDate() !== d) throw malformed(field, tlv.offset, 'no such day');
  return ms / 1000;
}

/** The content of a BIT STRING with no unused bits (keys, signatures). */
export function bitStringBytes(tlv: Tlv, field: string): Uint8Array {
  if (tlv.tag !== TAG.BIT_STRING || tlv.value.length === 0 || tlv.value[0] !== 0)
    throw malformed(field, tlv.offset, 'not an octet-aligned BIT STRING');
  return tlv.value.subarray(1);
}
