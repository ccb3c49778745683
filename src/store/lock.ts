import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import { io } from './lib/io.js';

/**
 * One process per data directory. Two coordinators on the same sealed state would each believe
 * their copy is the latest and overwrite the other's changes (lost activations, secrets, volume
 * commits), so the second one refuses to start.
 *
 * On Linux the lock is a listening socket in the abstract namespace (unix(7)), named after the
 * directory's device and inode: binding is atomic, two paths to the same folder (bind mounts,
 * symlinks) give the same name, and the kernel releases it when the process ends however it ends
 * (kill -9 included), so there is no stale lock to clean up. Elsewhere it is a `coordinator.lock`
 * file created with O_EXCL holding the owner's pid, taken over only when that pid is gone.
 */

export interface DataDirLock {
  /** Releases the lock (also released when the process exits). */
  release(): Promise<void>;
}

const LOCK_FILE = 'coordinator.lock';

const locked = (dir: string, holder: string): CloisterError =>
  new CloisterError(
    'STATE_LOCKED',
    `${dir} is in use by another process (${holder}); stop it first, or give this one its own --data-dir`,
    { path: dir },
  );

function listenAbstract(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    server.listen(`\0${name}`, () => {
      server.unref();
      resolve(server);
    });
  });
}

async function abstractLock(dir: string): Promise<DataDirLock> {
  const { dev, ino } = await io(dir, 'stat', () => stat(dir));
  const name = `cloister-data-dir-${createHash('sha256').update(`${dev}:${ino}`).digest('hex').slice(0, 32)}`;
  const server = await io(dir, 'lock', () => listenAbstract(name));
  if (!server) throw locked(dir, 'a process on this machine holds its lock');
  return { release: () => new Promise((resolve) => server.close(() => resolve())) };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

async function fileLock(dir: string): Promise<DataDirLock> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    const handle = await io(path, 'create', () =>
      open(path, 'wx', 0o600).catch((e: NodeJS.ErrnoException) =>
        e.code === 'EEXIST' ? undefined : Promise.reject(e),
      ),
    );
    if (handle) {
      await io(path, 'write', () => handle.writeFile(String(process.pid)).finally(() => handle.close()));
      return { release: () => rm(path, { force: true }) };
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) throw locked(dir, `pid ${owner}, in ${path}`);
    await rm(path, { force: true }); // its owner is gone
  }
  throw locked(dir, `${path} keeps reappearing`);
}

/**
 * Takes the data directory's lock (creating the directory if needed), or throws STATE_LOCKED
 * naming who holds it.
 *
 * @example
 * ```ts
 * const lock = await lockDataDir(dataDir);
 * const store = fileStore({ dir: dataDir, key });
 * ```
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  await io(dir, 'create the directory', () => mkdir(dir, { recursive: true, mode: 0o700 }));
  return process.platform === 'linux' ? abstractLock(dir) : fileLock(dir);
}

/**
 * Runs `start` holding the data directory's lock: released if `start` fails, and after the
 * returned service's `close()` otherwise.
 *
 * @example
 * ```ts
 * const running = await underLock(dataDir, () => serve(dataDir));
 * ```
 */
export async function underLock<T extends { close(): Promise<void> }>(
  dir: string,
  start: () => Promise<T>,
): Promise<T> {
  const lock = await lockDataDir(dir);
  let running: T;
  try {
    running = await start();
  } catch (error) {
    await lock.release();
    throw error;
  }
  const close = running.close.bind(running);
  return Object.assign(running, { close: () => close().finally(() => lock.release()) });
}
