import { createSecretKey, type KeyObject } from 'node:crypto';
import { lstat, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import { seal, unseal } from './format.js';
import { io, readIfExists, syncDir, writeNew } from './lib/io.js';

/**
 * Where the coordinator keeps its state, sealed: one opaque byte string, read once at start and
 * rewritten whole on every change.
 *
 * @example
 * ```ts
 * const state = (await store.read()) ?? initialState();
 * await store.write(next);
 * ```
 */
export interface SealedStore {
  /** The last state written, or `undefined` when none exists yet. */
  read(): Promise<Uint8Array | undefined>;
  /** Replaces the state; durable (on disk, fsync'ed) when the promise resolves. */
  write(state: Uint8Array): Promise<void>;
}

export interface FileStoreOptions {
  /** The data directory; `state.sealed` lives here. */
  dir: string;
  /** The 32-byte AES-256 sealing key (see `sealingKey`). */
  key: Uint8Array;
}

const STATE_FILE = 'state.sealed';

/**
 * A {@link SealedStore} in `DIR/state.sealed` (format: `./format.ts`). write() seals to
 * `state.sealed.tmp`, fsyncs it, renames it over `state.sealed` and fsyncs the directory, so a
 * crash leaves either the old or the new state, never a mix; each write's generation is one more
 * than the last. read() of a missing file gives `undefined`; an unreadable one throws
 * STATE_CORRUPT and from then on this store refuses to write (corrupt state is never
 * overwritten) until a new store is made. Writing before reading when a state file exists throws
 * STATE_CONFLICT; a generation older than one this store has seen (a rollback) is STATE_CORRUPT.
 * I/O errors are STATE_IO with the path. Operations on one store run one at a time, in order.
 *
 * @example
 * ```ts
 * const store = fileStore({ dir: dataDir, key: await sealingKey(dataDir) });
 * const state = await store.read(); // undefined on first start
 * await store.write(new TextEncoder().encode(JSON.stringify({ manifest })));
 * ```
 */
export function fileStore(options: FileStoreOptions): SealedStore {
  const { dir } = options;
  if (!(options.key instanceof Uint8Array) || options.key.length !== 32) {
    throw new CloisterError('STATE_KEY_INVALID', `the sealing key for ${dir} must be 32 bytes`, {
      expected: 32,
      actual: options.key?.length,
    });
  }
  const key: KeyObject = createSecretKey(options.key); // a copy: later changes to the caller's bytes do not reach it
  const file = join(dir, STATE_FILE);
  const tmp = `${file}.tmp`;
  /** The generation of the state on disk as this store last saw it; undefined until read or first write. */
  let generation: bigint | undefined;
  let corrupt: CloisterError | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  /** Runs operations one after another, whatever became of the one before. */
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const run = queue.then(op, op);
    queue = run.catch(() => undefined);
    return run;
  };
  const poison = (e: CloisterError): CloisterError => {
    corrupt = e;
    return e;
  };

  const read = async (): Promise<Uint8Array | undefined> => {
    const bytes = await readIfExists(file);
    if (bytes === undefined) {
      if (generation !== undefined && generation > 0n)
        throw poison(
          new CloisterError('STATE_CORRUPT', `${file}: removed after this store saw generation ${generation}`, {
            path: file,
          }),
        );
      generation = 0n;
      return undefined;
    }
    let unsealed;
    try {
      unsealed = unseal(key, bytes, file);
    } catch (e) {
      throw poison(e as CloisterError);
    }
    if (generation !== undefined && unsealed.generation < generation) {
      throw poison(
        new CloisterError(
          'STATE_CORRUPT',
          `${file}: generation ${unsealed.generation} is older than generation ${generation} this store already saw (rolled back)`,
          { path: file, field: 'header.generation' },
        ),
      );
    }
    generation = unsealed.generation;
    return unsealed.state;
  };

  const write = async (state: Uint8Array): Promise<void> => {
    if (corrupt !== undefined)
      throw new CloisterError(
        'STATE_CORRUPT',
        `${file}: not writing over state that could not be read (${corrupt.message})`,
        { path: file, cause: corrupt },
      );
    if (generation === undefined) {
      const exists = await io(file, 'stat', () =>
        lstat(file).then(
          () => true,
          (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? false : Promise.reject(e)),
        ),
      );
      if (exists)
        throw new CloisterError(
          'STATE_CONFLICT',
          `${file}: exists but this store has not read it; read() before writing`,
          { path: file },
        );
      generation = 0n;
    }
    const next = generation + 1n;
    const sealed = seal(key, next, state);
    await io(dir, 'create the directory', () => mkdir(dir, { recursive: true, mode: 0o700 }));
    await writeNew(tmp, sealed);
    await io(file, `rename ${tmp} over it`, () => rename(tmp, file));
    generation = next;
    await syncDir(dir);
  };

  return {
    read: () => serial(read),
    write: (state) => {
      const copy = new Uint8Array(state); // what the caller passed now, not what its buffer holds later
      return serial(() => write(copy));
    },
  };
}
