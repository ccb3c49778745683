import { timingSafeEqual } from 'node:crypto';

/** Lowercase hex of a byte string. @example `hex(new Uint8Array([1, 255]))` → `'01ff'` */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Strict hex decoding (even length, hex digits only); `undefined` when malformed. @example `fromHex('01ff')` */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** Byte equality (not constant time: for public values). @example `equal(a, b)` */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Constant-time equality for secrets and MACs. @example `secretEqual(mac, expected)` */
export function secretEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True when every byte is zero. @example `isZero(new Uint8Array(4))` → `true` */
export function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}
