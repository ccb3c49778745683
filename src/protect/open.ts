import { CloisterError } from '../lib/errors.js';
import { HEADER_LENGTH } from './format.js';
import { FileOpener } from './lib/opener.js';
import { openParams } from './lib/options.js';
import { bufferSink } from './lib/sink.js';
import type { OpenOptions, OpenResult } from './types.js';

/**
 * Authenticates and decrypts a whole protected file, returning its plaintext only when every
 * check has passed (unlike a stream, which releases chunks as they verify). Checks, in order:
 * PROTECTED_TRUNCATED for a file shorter than its header; PROTECTED_HEADER_INVALID for a
 * malformed header or one whose MAC fails (any header byte changed, an edited version);
 * PROTECTED_WRONG_KEY for another volume's key; PROTECTED_WRONG_PATH for an authentic file of
 * another path; PROTECTED_ROLLBACK when its version is below `expectedVersion` (naming both);
 * then each chunk in order: PROTECTED_INTEGRITY naming the chunk that fails authentication or
 * the bytes after the final one, PROTECTED_TRUNCATED naming the chunk the file ends in; last,
 * PROTECTED_INTEGRITY when the root differs from `expectedRoot`. Errors carry `path`
 * (`fileName` or `path`) and `chunk`.
 *
 * @example
 * ```ts
 * const { plaintext, version, root } = openFile(sealed, { volumeKey, path: 'data/db.sqlite', expectedVersion: 7n, fileName: '/vol/data/db.sqlite' });
 * ```
 */
export function openFile(sealed: Uint8Array, o: OpenOptions): OpenResult {
  const p = openParams(o);
  if (!(sealed instanceof Uint8Array))
    throw new CloisterError('PROTECTED_OPTIONS_INVALID', 'sealed: must be a Uint8Array', { field: 'sealed' });
  const opener = new FileOpener(p);
  const discard = (): void => undefined;
  opener.write(sealed.subarray(0, HEADER_LENGTH), discard);
  // The header is authentic now. Allocate the plaintext only when the input has the size it
  // declares; otherwise opening will fail, and finds out where without holding output.
  const header = opener.header;
  const sink = header !== undefined && header.sealedLength === sealed.length ? bufferSink(header.length) : undefined;
  opener.write(sealed.subarray(HEADER_LENGTH), sink?.emit ?? discard);
  const { version, root } = opener.end();
  // Unreachable: the chunk opener refuses a file of any other size than its header declares.
  if (sink === undefined)
    throw new CloisterError('PROTECTED_INTEGRITY', `${p.name}: not of the size its header declares`, { path: p.name });
  return { plaintext: sink.bytes(), version, root };
}
