import { randomBytes } from 'node:crypto';
import { link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import { io, readIfExists, syncDir, writeNew } from './lib/io.js';

const KEY_FILE = 'sealing.key';
const KEY_LENGTH = 32;

/** The key in `path`, `undefined` when there is none, STATE_CORRUPT when it is not 32 bytes. */
async function readKey(path: string): Promise<Uint8Array | undefined> {
  const key = await readIfExists(path);
  if (key !== undefined && key.length !== KEY_LENGTH) {
    throw new CloisterError(
      'STATE_CORRUPT',
      `${path}: a sealing key is ${KEY_LENGTH} bytes, this file has ${key.length}; it is never replaced (restore it, or move it away to start without the state it sealed)`,
      {
        path,
        expected: KEY_LENGTH,
        actual: key.length,
      },
    );
  }
  return key;
}

/**
 * The simulation-mode sealing key of a data directory: `DIR/sealing.key`, 32 random bytes, mode
 * 0600. Read when it exists; otherwise created atomically: written and fsync'ed under a temporary
 * name (O_EXCL), then hard-linked into place, which fails rather than replace a key another
 * process created first (that one is then used), and the directory is fsync'ed. A file of another
 * size is STATE_CORRUPT and is never replaced; I/O errors are STATE_IO.
 *
 * In a real TEE the sealing key comes from the hardware (e.g. SGX EGETKEY); this file stands in
 * for it on development machines and in CI, and protects nothing from whoever can read the disk.
 *
 * @example
 * ```ts
 * const store = fileStore({ dir: dataDir, key: await sealingKey(dataDir) });
 * ```
 */
export async function sealingKey(dir: string): Promise<Uint8Array> {
  const path = join(dir, KEY_FILE);
  const existing = await readKey(path);
  if (existing !== undefined) return existing;
  await io(dir, 'create the directory', () => mkdir(dir, { recursive: true, mode: 0o700 }));
  const tmp = join(dir, `${KEY_FILE}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    await writeNew(tmp, randomBytes(KEY_LENGTH));
    await io(path, 'create', () =>
      link(tmp, path).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e))),
    );
  } finally {
    await io(tmp, 'remove', () => rm(tmp, { force: true }));
  }
  await syncDir(dir);
  const key = await readKey(path);
  if (key === undefined) throw new CloisterError('STATE_IO', `${path}: vanished right after it was created`, { path });
  return key;
}
