import { equal, hex, secretEqual } from '../../lib/bytes.js';
import { CloisterError } from '../../lib/errors.js';
import { HEADER_LENGTH, readHeader, type ProtectedHeader } from '../format.js';
import { ChunkOpener, type ChunkContext, type Emit } from './chunks.js';
import { fileKeys, headerHash, headerMac, volumeKeyId } from './keys.js';
import type { OpenParams } from './options.js';

/** What an opened file proved about itself. */
export interface Opened {
  readonly version: bigint;
  readonly root: Uint8Array;
  readonly length: number;
}

/**
 * Checks the header of a file being opened, in this order (docs/protected-files.md, "Opening"):
 * the key id (PROTECTED_WRONG_KEY), the MAC under the keys derived from the header's own salt,
 * path hash and version (PROTECTED_HEADER_INVALID: any header byte changed, a version edited),
 * the path hash against the expected path (PROTECTED_WRONG_PATH: an authentic file of another
 * path), then the version against the record (PROTECTED_ROLLBACK). Returns what the chunks need.
 */
export function verifyHeader(p: OpenParams, header: ProtectedHeader): ChunkContext {
  const { name } = p;
  const context = (field: string, expected?: unknown, actual?: unknown) => ({ path: name, field, expected, actual });
  if (!equal(header.keyId, volumeKeyId(p.volumeKey))) {
    throw new CloisterError(
      'PROTECTED_WRONG_KEY',
      `${name}: sealed under another volume key (key id ${hex(header.keyId)})`,
      context('header.keyId', hex(volumeKeyId(p.volumeKey)), hex(header.keyId)),
    );
  }
  const keys = fileKeys(p.volumeKey, header.salt, header.pathHash, header.version);
  if (!secretEqual(headerMac(keys.mac, header.bytes), header.mac)) {
    throw new CloisterError(
      'PROTECTED_HEADER_INVALID',
      `${name}: the header fails authentication: changed since it was sealed (an edited version, length, path or salt)`,
      context('header.mac'),
    );
  }
  if (!equal(header.pathHash, p.pathHash)) {
    throw new CloisterError(
      'PROTECTED_WRONG_PATH',
      `${name}: sealed for another path of the volume, not ${JSON.stringify(p.path)} (moved or swapped with another file)`,
      context('header.pathHash', hex(p.pathHash), hex(header.pathHash)),
    );
  }
  if (p.expectedVersion !== undefined && header.version < p.expectedVersion) {
    throw new CloisterError(
      'PROTECTED_ROLLBACK',
      `${name}: version ${header.version} is older than version ${p.expectedVersion} on record (an older copy was restored)`,
      context('header.version', p.expectedVersion, header.version),
    );
  }
  return {
    key: keys.cipher,
    aad: headerHash(header.bytes),
    chunkSize: header.chunkSize,
    length: header.length,
    count: header.chunkCount,
    name,
  };
}

/** The header of `bytes` (its first 150, or fewer), unauthenticated; errors carry the file's name. */
export function headerOf(p: OpenParams, bytes: Uint8Array): ProtectedHeader {
  try {
    return readHeader(bytes);
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    throw new CloisterError(e.code, `${p.name}: ${e.message}`, {
      path: p.name,
      field: e.field ?? 'header',
      offset: e.offset ?? 0,
      cause: e,
    });
  }
}

/** PROTECTED_INTEGRITY unless `root` is the root on record (when there is one). */
export function checkRoot(p: OpenParams, root: Uint8Array): void {
  const { expectedRoot, name } = p;
  if (expectedRoot !== undefined && !equal(root, expectedRoot)) {
    throw new CloisterError(
      'PROTECTED_INTEGRITY',
      `${name}: root ${hex(root)} is not the root on record ${hex(expectedRoot)} (another authentic copy of the file)`,
      {
        path: name,
        field: 'root',
        expected: hex(expectedRoot),
        actual: hex(root),
      },
    );
  }
}

/**
 * Opens one file in pieces: gathers and verifies the header, then the chunks. `emit` receives
 * plaintext only after the chunk holding it has authenticated; `end` refuses a file that stopped
 * early and checks the root.
 */
export class FileOpener {
  private readonly head = new Uint8Array(HEADER_LENGTH);
  private headFilled = 0;
  private chunks: ChunkOpener | undefined;
  /** The authenticated header, once its bytes have arrived. */
  header: ProtectedHeader | undefined;

  constructor(private readonly p: OpenParams) {}

  write(piece: Uint8Array, emit: Emit): void {
    let rest = piece;
    if (this.chunks === undefined) {
      const take = Math.min(rest.length, HEADER_LENGTH - this.headFilled);
      this.head.set(rest.subarray(0, take), this.headFilled);
      this.headFilled += take;
      rest = rest.subarray(take);
      if (this.headFilled < HEADER_LENGTH) return;
      const header = this.readHeader();
      this.chunks = new ChunkOpener(verifyHeader(this.p, header), header.bytes);
      this.header = header;
    }
    this.chunks.write(rest, emit);
  }

  /** Throws PROTECTED_TRUNCATED (or the header's error) unless the file was complete; checks the root. */
  end(): Opened {
    // With fewer than 150 bytes, reading the header reports the truncation, naming the field.
    const header = this.header ?? this.readHeader();
    const root = (this.chunks ?? new ChunkOpener(verifyHeader(this.p, header), header.bytes)).end();
    checkRoot(this.p, root);
    return { version: header.version, root, length: header.length };
  }

  /** The header from the bytes gathered so far; errors carry the file's name. */
  private readHeader(): ProtectedHeader {
    return headerOf(this.p, this.head.subarray(0, this.headFilled));
  }
}
