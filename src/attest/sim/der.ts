import { TAG } from '../lib/der.js';

/** One element: tag, definite minimal length (X.690 §10.1), contents. */
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  // Every structure the simulator writes is far below 64 KiB.
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
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
 * A minimal DER encoder (ITU-T X.690 §8, §10) for the few structures the simulated platform
 * writes itself: the SGX extension of its PCK certificate and the cRLNumber of its CRLs.
 * Internal to `attest/sim`.
 *
 * @example
 * ```ts
 * der.sequence(der.oid('1.2.840.113741.1.13.1.3'), der.octets(pceId));
 * ```
 */
export const der = {
  sequence: (...items: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, Buffer.concat(items)),
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
