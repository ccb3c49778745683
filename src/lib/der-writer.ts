import { TAG } from './der.js';

/** One element: tag, definite minimal length (X.690 §10.1), contents. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const length =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Uint8Array.of(tag, ...length), content]);
}

/** A non-negative INTEGER (X.690 §8.3: minimal two's complement, a leading zero when the top bit is set). */
function unsigned(tag: number, value: number): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if ((bytes[0] as number) & 0x80) bytes.unshift(0);
  return tlv(tag, Uint8Array.from(bytes));
}

/**
 * A minimal DER encoder (ITU-T X.690 §8, §10) for the structures cloister writes itself: the
 * SGX extension of simulated PCK certificates, cRLNumbers, and the certificates the PKI signs.
 *
 * @example
 * ```ts
 * der.sequence(der.oid('1.2.840.113741.1.13.1.3'), der.octets(pceId));
 * ```
 */
export const der = {
  sequence: (...items: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, Buffer.concat(items)),
  /** A context-specific constructed tag [n] around DER elements (EXPLICIT tagging). */
  explicit: (n: number, ...items: Uint8Array[]): Uint8Array => tlv(0xa0 | n, Buffer.concat(items)),
  bitString: (value: Uint8Array): Uint8Array => tlv(TAG.BIT_STRING, Buffer.concat([Uint8Array.of(0), value])),
  /** A positive INTEGER from big-endian magnitude bytes (serial numbers). */
  bigUnsigned: (magnitude: Uint8Array): Uint8Array => {
    let i = 0;
    while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
    const m = magnitude.subarray(i);
    return tlv(TAG.INTEGER, (m[0] as number) & 0x80 ? Buffer.concat([Uint8Array.of(0), m]) : m);
  },
  /** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, seconds, Z. */
  time(seconds: number): Uint8Array {
    const iso = new Date(seconds * 1000).toISOString();
    const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
    const year = Number(iso.slice(0, 4));
    return year < 2050
      ? tlv(TAG.UTC_TIME, Buffer.from(digits.slice(2), 'latin1'))
      : tlv(TAG.GENERALIZED_TIME, Buffer.from(digits, 'latin1'));
  },
  octets: (value: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, value),
  integer: (value: number): Uint8Array => unsigned(TAG.INTEGER, value),
  enumerated: (value: number): Uint8Array => unsigned(TAG.ENUMERATED, value),
  /** Dotted OID text (X.690 §8.19: first two arcs joined, base-128 arcs). */
  oid(text: string): Uint8Array {
    const [a, b, ...rest] = text.split('.').map(Number) as [number, number, ...number[]];
    const out: number[] = [];
    for (const arc of [a * 40 + b, ...rest]) {
      const groups = [arc & 0x7f];
      for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
      out.push(...groups);
    }
    return tlv(TAG.OID, Uint8Array.from(out));
  },
};
