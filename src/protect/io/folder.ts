import type { Dirent } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromHex, hex } from '../../lib/bytes.js';
import { CloisterError } from '../../lib/errors.js';
import { ioError } from './errors.js';
import { pathProblem } from '../lib/options.js';
import { openWith, sealWith, withExecutors } from './files.js';
import type { TransferOptions } from '../types.js';

/**
 * Folder helpers for the CLI and `cloister run`: seal every file of a folder for a volume, or
 * open (or just verify) a sealed folder, streaming each file as `sealToFile`/`openToFile` do, so
 * memory stays bounded whatever the file sizes, several files at a time, with one pool of worker
 * threads for all the files of 8 MiB or more (`threads`, as for `sealToFile`). A file's volume
 * path is its `/`-separated path relative to the folder.
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
  /** The name errors give each file (`volume/path`, say); its path on disk when omitted. */
  fileName?: (path: string) => string;
}

/**
 * Every regular file below `root`, sorted, as volume paths: the one folder walker of protected
 * volumes (the CLI, `cloister run`'s unlock and commit). A symlink, device or socket is refused,
 * never followed or skipped: sealing what a link points at, or leaving it out without a word,
 * would each put something other than the folder in the volume. `skip` names top-level entries
 * that are not part of the volume (cloister run's marker). A missing `root` is IO.
 */
export async function walkFolder(root: string, skip: ReadonlySet<string> = new Set()): Promise<string[]> {
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
      if (prefix === '' && skip.has(e.name)) continue;
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

/**
 * Files sealed or opened at once: while one waits for its reads, writes or fsync, others use the
 * CPU (small files are mostly waiting). The worker pool is shared by all of them.
 */
const FILES_IN_FLIGHT = 8;

/**
 * `work` over every item, at most FILES_IN_FLIGHT at a time, results in the items' order. After a
 * failure no further item starts; the first failure in item order is thrown once those in flight end.
 */
async function pipelined<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const failures: Array<{ index: number; error: unknown }> = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && failures.length === 0) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failures.push({ index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, items.length) }, lane));
  if (failures.length > 0) throw failures.sort((a, b) => a.index - b.index)[0]?.error;
  return results;
}

/** fsync of each folder once: what makes the renames of the sealed files in it durable. */
export async function syncFolders(folders: Iterable<string>): Promise<void> {
  for (const folder of new Set(folders)) {
    let handle: FileHandle | undefined;
    try {
      handle = await open(folder, 'r');
      await handle.sync();
    } catch (cause) {
      throw ioError(folder, 'sync the folder', cause);
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
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

/** One file to seal: from where, to where, its volume path and version. */
export interface SealJob {
  from: string;
  to: string;
  path: string;
  version: number;
}

/**
 * Seals each job's file, pipelined, each fsync'ed before its rename and each target folder
 * fsync'ed once at the end. Returns the entries in the jobs' order.
 */
export async function sealFiles(
  jobs: readonly SealJob[],
  o: TransferOptions & { volumeKey: Uint8Array; chunkSize?: number },
): Promise<ProtectedEntry[]> {
  const entries = await withExecutors(o.threads, (executors) =>
    pipelined(jobs, async ({ from, to, path, version }) => {
      const { root, length } = await sealWith(executors, from, to, {
        volumeKey: o.volumeKey,
        path,
        version,
        ...(o.chunkSize !== undefined && { chunkSize: o.chunkSize }),
      });
      return { path, version, root: hex(root), size: length };
    }),
  );
  await syncFolders(jobs.map((job) => dirname(job.to)));
  return entries;
}

/**
 * Seals every regular file below `from` into the same relative path below `to`, streaming and
 * pipelined across files, durably (sealFiles). Returns the manifest of the sealed files, sorted
 * by path. A symlink or other special file is PROTECTED_FILE_SET; I/O failures are IO naming the file.
 *
 * @example
 * ```ts
 * const files = await sealFolder('app', 'app.sealed', { volumeKey, version: 1 });
 * // [{ path: 'main.py', version: 1, root: '9f…', size: 1234 }, …]
 * ```
 */
export async function sealFolder(from: string, to: string, o: SealFolderOptions): Promise<ProtectedEntry[]> {
  const jobs = (await walkFolder(from)).map((path) => ({
    from: join(from, path),
    to: join(to, path),
    path,
    version: typeof o.version === 'function' ? o.version(path) : (o.version ?? 1),
  }));
  return sealFiles(jobs, o);
}

/**
 * Opens every sealed file below `from` into the same relative path below `to` (folders 0700,
 * files 0600), or, with `to` undefined, only verifies them, pipelined across files. Each file is
 * written to a temporary name and renamed once it has fully authenticated, so `to` never holds a
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
  const paths = await walkFolder(from);
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
  return withExecutors(o.threads, (executors) =>
    pipelined(paths, async (path) => {
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
        ...(o.fileName !== undefined && { fileName: o.fileName(path) }),
        ...(expected?.version !== undefined && { expectedVersion: expected.version }),
        ...(root !== undefined && { expectedRoot: root }),
      });
      return { path, version: safeVersion(result.version, source), root: hex(result.root), size: result.length };
    }),
  );
}
