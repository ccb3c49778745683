/**
 * The options and results of sealing and opening protected files (docs/protected-files.md).
 */

/** What identifies a file: the key of its volume and its path inside that volume. */
export interface FileKeyOptions {
  /** The volume key: 32 bytes, kept by the coordinator and released only to attested services. */
  volumeKey: Uint8Array;
  /**
   * The file's path inside its volume, as recorded in the header (hashed): relative, `/`
   * separators, no empty, `.` or `..` segment, no NUL, at most 4096 UTF-8 bytes, e.g.
   * `app/main.py`. Compared byte for byte (no Unicode normalisation).
   */
  path: string;
}

export interface SealOptions extends FileKeyOptions {
  /** The file version, 0 ..= 2^64 - 1: one higher on every rewrite, so an older copy is detected. */
  version: bigint | number;
  /** Plaintext bytes per chunk: a power of two from 64 B to 16 MiB; 64 KiB when omitted. */
  chunkSize?: number;
}

export interface SealResult {
  /** The protected file. */
  sealed: Uint8Array;
  /** SHA-256 over the header and every chunk tag: what the coordinator pins or records. */
  root: Uint8Array;
}

export interface OpenOptions extends FileKeyOptions {
  /** The version on record: an older file is PROTECTED_ROLLBACK (a newer one is accepted). */
  expectedVersion?: bigint | number;
  /** The root on record (32 bytes): any other is PROTECTED_INTEGRITY. */
  expectedRoot?: Uint8Array;
  /** The name errors give the file (a path on disk, say); `path` when omitted. */
  fileName?: string;
}

export interface OpenResult {
  plaintext: Uint8Array;
  /** The authenticated file version. */
  version: bigint;
  /** SHA-256 over the header and every chunk tag (equal to `expectedRoot` when that was given). */
  root: Uint8Array;
}

/** Streaming seal: the plaintext length goes in the header, so it must be known in advance. */
export interface SealStreamOptions extends SealOptions {
  /** The number of plaintext bytes the stream will carry; any other count fails the stream. */
  length: number;
}

/** What a finished seal stream reports. */
export interface SealStreamResult {
  root: Uint8Array;
  version: bigint;
  length: number;
}

/** What a finished open stream reports, once every chunk has authenticated. */
export interface OpenStreamResult {
  version: bigint;
  root: Uint8Array;
  length: number;
}

/** How file-to-file sealing and opening (`sealToFile`, `openToFile`, the folder helpers) use threads. */
export interface TransferOptions {
  /**
   * Worker threads that seal or open runs of chunks in parallel for files of 8 MiB or more
   * (smaller files stay on the calling thread): 0 ..= 16, 0 for none; by default the number of
   * cores, at most 4. The output is the same byte for byte whatever the number.
   */
  threads?: number;
}
