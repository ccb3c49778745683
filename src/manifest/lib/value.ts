import type { CloisterError } from '../../lib/errors.js';
import { fromHex } from '../../lib/bytes.js';
import type { ValueEncoding } from '../types.js';

/** Makes the error for a value whose path the caller knows. */
export type Fail = (why: string, cause?: unknown) => CloisterError;

// Go's base64.StdEncoding: padded, and it skips CR and LF.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * MarbleRun "Files and Env": how `Data` is written, and how to decode it into what the Marble
 * receives. `undefined` means the text is not valid in that encoding.
 *
 * @example
 * ```ts
 * VALUE_ENCODINGS.base64('Zm9v');   // bytes of 'foo'
 * ```
 */
export const VALUE_ENCODINGS: Readonly<Record<ValueEncoding, (data: string) => Uint8Array | undefined>> = {
  string: (data) => new TextEncoder().encode(data),
  base64: (data) => {
    const text = data.replace(/[\r\n]/g, '');
    return BASE64.test(text) && text.length % 4 === 0 ? new Uint8Array(Buffer.from(text, 'base64')) : undefined;
  },
  hex: (data) => fromHex(data),
};

export const ENCODING_NAMES = Object.keys(VALUE_ENCODINGS) as ValueEncoding[];

/**
 * The bytes a value's `Data` stands for.
 *
 * @example
 * ```ts
 * decodeData({ Data: '666f6f', Encoding: 'hex', NoTemplates: false }, (why) => new CloisterError('MANIFEST_INVALID', why));
 * ```
 */
export function decodeData(v: { Data: string; Encoding: ValueEncoding }, fail: Fail): Uint8Array {
  const bytes = VALUE_ENCODINGS[v.Encoding](v.Data);
  if (bytes === undefined) throw fail(`Data is not valid ${v.Encoding}`);
  return bytes;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes as text for an environment variable: valid UTF-8 without NUL bytes (environ(7): a NUL
 * ends the string).
 *
 * @example
 * ```ts
 * envText(new TextEncoder().encode('on'), fail);   // 'on'
 * ```
 */
export function envText(bytes: Uint8Array, fail: Fail): string {
  if (bytes.includes(0)) throw fail('an environment variable must not contain NUL bytes');
  try {
    return UTF8.decode(bytes);
  } catch {
    throw fail('an environment variable must be valid UTF-8');
  }
}
