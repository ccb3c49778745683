import { CloisterError } from '../lib/errors.js';
import { sealedLength } from './format.js';
import { FileSealer } from './lib/sealer.js';
import { sealParams } from './lib/options.js';
import { bufferSink } from './lib/sink.js';
import type { SealOptions, SealResult } from './types.js';

/**
 * Encrypts `plaintext` as a protected file for `path` in the volume of `volumeKey`, at
 * `version`, with a fresh random salt (so sealing the same content twice gives different
 * bytes and a different root). The output is allocated once at its final size.
 * Malformed options are PROTECTED_OPTIONS_INVALID.
 *
 * @example
 * ```ts
 * const { sealed, root } = sealFile(new TextEncoder().encode('print("hi")'), { volumeKey, path: 'app/main.py', version: 1 });
 * await coordinator.recordRoot('app/main.py', 1, root); // what the integrator pins
 * ```
 */
export function sealFile(plaintext: Uint8Array, o: SealOptions): SealResult {
  const p = sealParams(o);
  if (!(plaintext instanceof Uint8Array))
    throw new CloisterError('PROTECTED_OPTIONS_INVALID', 'plaintext: must be a Uint8Array', { field: 'plaintext' });
  const sealer = new FileSealer(p, plaintext.length);
  const sink = bufferSink(sealedLength(plaintext.length, p.chunkSize));
  sink.emit(sealer.header);
  sealer.write(plaintext, sink.emit);
  const root = sealer.end(sink.emit);
  return { sealed: sink.bytes(), root };
}
