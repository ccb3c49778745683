import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromHex, hex } from '../../lib/bytes.js';
import { CloisterError } from '../../lib/errors.js';
import { ioError } from './errors.js';
import { pathProblem } from '../lib/options.js';
import { openWith, sealWith, withExecutors } from './files.js';
import type { TransferOptions } from '../types.js';

/**
 * Folder helpers for the CLI and `cloister run`: seal every file of a folder for a volume, or
 * open (or just verify) a sealed folder, file by file with `sealToFile`/`openToFile`, so memory
 * stays bounded whatever the file sizes, with one pool of worker threads for all the files of 8
 * MiB or more (`threads`, as for `sealToFile`). A file's volume path is its `/`-separated path
 * relative to the folder.
 */

/** One file of a sealed folder: what a coordinator records or pins for it. JSON-ready. */
export interface ProtectedEntry {
  /** The file's path inside the volume (relative, `/`-separated). */
  path: string;
  version: number;
  /** The root, lowercase hex. */
  root: string;
  /** The plaintext size in bytes. */
  size: number;
}

export interface SealFolderOptions extends TransferOptions {
  volumeKey: Uint8Array;
  /** Every file's version (1 when omitted), or a function of its volume path. A safe integer. */
  version?: number | ((path: string) => number);
  chunkSize?: number;
}

/** A record of a volume's files (the coordinator's), by volume path. */
export type FolderRecord = Readonly<Record<string, { readonly version?: number; readonly root?: string }>>;

export interface OpenFolderOptions extends TransferOptions {
  volumeKey: Uint8Array;
  /**
   * When given, the folder must hold exactly these files (else PROTECTED_FILE_SET), each at
   * least at its `version` (else PROTECTED_ROLLBACK) and of its `root` (else PROTECTED_INTEGRITY).
   */
  expected?: FolderRecord;
}

/** Every regular file below `root`, sorted, as volume paths; anything else (a symlink, a device) is refused. */
async function walk(root: string): Promise<string[]> {
  const files: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (cause) {
      throw ioError(dir, 'list the folder', cause);
    }
    for (const e of entries) {
      const path = prefix + e.name;
      if (e.isDirectory()) await visit(join(dir, e.name), `${path}/`);
      else if (e.isFile()) files.push(path);
      else
        throw new CloisterError(
          'PROTECTED_FILE_SET',
          `${join(dir, e.name)}: not a regular file or folder (symlinks, devices and sockets are not sealed)`,
          { path },
        );
    }
  };
  await visit(root, '');
  const bad = files.find((p) => pathProblem(p) !== undefined);
  if (bad !== undefined)
    throw new CloisterError('PROTECTED_FILE_SET', `${join(root, bad)}: ${pathProblem(bad) ?? ''}`, { path: bad });
  return files.sort();
}

const safeVersion = (version: bigint, path: string): number => {
  if (version > BigInt(Number.MAX_SAFE_INTEGER))
    throw new CloisterError(
      'PROTECTED_OPTIONS_INVALID',
      `${path}: version ${version} is beyond what a folder record holds (2^53 - 1)`,
      { path, actual: version },
    );
  return Number(version);
};

/**
 * Seals every regular file below `from` into the same relative path below `to`, streaming.
 * Returns the manifest of the sealed files, sorted by path. A symlink or other special file is
 * PROTECTED_FILE_SET; I/O failures are IO naming the file.
 *
 * @example
 * ```ts
 * const files = await sealFolder('app', 'app.sealed', { volumeKey, version: 1 });
 * // [{ path: 'main.py', version: 1, root: '9f…', size: 1234 }, …]
 * ```
 */
export async function sealFolder(from: string, to: string, o: SealFolderOptions): Promise<ProtectedEntry[]> {
  const paths = await walk(from);
  return withExecutors(o.threads, async (executors) => {
    const entries: ProtectedEntry[] = [];
    for (const path of paths) {
      const version = typeof o.version === 'function' ? o.version(path) : (o.version ?? 1);
      const chunkSize = o.chunkSize === undefined ? {} : { chunkSize: o.chunkSize };
      const { root, length } = await sealWith(executors, join(from, path), join(to, path), {
        volumeKey: o.volumeKey,
        path,
        version,
        ...chunkSize,
      });
      entries.push({ path, version, root: hex(root), size: length });
    }
    return entries;
  });
}

/**
 * Opens every sealed file below `from` into the same relative path below `to` (folders 0700,
 * files 0600), or, with `to` undefined, only verifies them. Each file is written to a
 * temporary name and renamed once it has fully authenticated, so `to` never holds a
 * plaintext that failed; files opened before a failure stay. Errors are `openFile`'s, naming
 * the file on disk and the chunk.
 *
 * @example
 * ```ts
 * await openFolder('app.sealed', '/run/app', { volumeKey, expected: { 'main.py': { version: 1, root: '9f…' } } });
 * ```
 */
export async function openFolder(
  from: string,
  to: string | undefined,
  o: OpenFolderOptions,
): Promise<ProtectedEntry[]> {
  const paths = await walk(from);
  const record = o.expected;
  if (record !== undefined) {
    const unrecorded = paths.filter((p) => !Object.hasOwn(record, p));
    const missing = Object.keys(record)
      .filter((p) => !paths.includes(p))
      .sort();
    if (unrecorded.length + missing.length > 0) {
      const list = (label: string, ps: string[]) =>
        ps.length > 0 ? [`${label} ${ps.slice(0, 5).join(', ')}${ps.length > 5 ? ', …' : ''}`] : [];
      throw new CloisterError(
        'PROTECTED_FILE_SET',
        `${from}: ${[...list('not recorded:', unrecorded), ...list('missing:', missing)].join('; ')}`,
        { path: unrecorded[0] ?? missing[0] ?? from },
      );
    }
  }
  return withExecutors(o.threads, async (executors) => {
    const entries: ProtectedEntry[] = [];
    for (const path of paths) {
      const expected = record?.[path];
      const root = expected?.root === undefined ? undefined : fromHex(expected.root);
      if (expected?.root !== undefined && root === undefined)
        throw new CloisterError('PROTECTED_OPTIONS_INVALID', `expected.${path}.root: not hex`, {
          field: `expected.${path}.root`,
        });
      const source = join(from, path);
      const result = await openWith(executors, source, to === undefined ? undefined : join(to, path), {
        volumeKey: o.volumeKey,
        path,
        ...(expected?.version !== undefined && { expectedVersion: expected.version }),
        ...(root !== undefined && { expectedRoot: root }),
      });
      entries.push({ path, version: safeVersion(result.version, source), root: hex(result.root), size: result.length });
    }
    return entries;
  });
}
