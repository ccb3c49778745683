import { open, readFile, rm } from 'node:fs/promises';
import { CloisterError } from '../../lib/errors.js';

/**
 * The store's file operations: every failure becomes STATE_IO naming the path, and everything
 * written is fsync'ed before it counts.
 */

/** Runs `fn`, turning an I/O failure into STATE_IO naming `path` and what was being done. @example `await io(path, 'rename', () => rename(a, b))` */
export async function io<T>(path: string, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof CloisterError) throw cause;
    throw new CloisterError(
      'STATE_IO',
      `${path}: could not ${doing}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { path, cause },
    );
  }
}

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/** The bytes of `path`, or `undefined` when it does not exist. @example `const bytes = await readIfExists(join(dir, 'state.sealed'))` */
export function readIfExists(path: string): Promise<Uint8Array | undefined> {
  return io(path, 'read', async () => {
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  });
}

/**
 * Writes `bytes` to a new file at `path` (mode 0600), replacing a leftover there, and fsyncs it.
 * O_EXCL after the removal: a link planted at `path` is never followed.
 *
 * @example
 * ```ts
 * await writeNew(`${file}.tmp`, sealed);
 * ```
 */
export async function writeNew(path: string, bytes: Uint8Array): Promise<void> {
  await io(path, 'remove a leftover', () => rm(path, { force: true }));
  const handle = await io(path, 'create', () => open(path, 'wx', 0o600));
  try {
    await io(path, 'write', () => handle.writeFile(bytes));
    await io(path, 'fsync', () => handle.sync());
  } finally {
    await io(path, 'close', () => handle.close());
  }
}

/** fsyncs a directory, so that a rename or link in it is durable (POSIX fsync of the directory). @example `await syncDir(dir)` */
export async function syncDir(dir: string): Promise<void> {
  const handle = await io(dir, 'open the directory', () => open(dir, 'r'));
  try {
    await io(dir, 'fsync the directory', () => handle.sync());
  } finally {
    await io(dir, 'close the directory', () => handle.close());
  }
}
