import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import { ioError } from './lib/io.js';
import type { Emit } from './lib/chunks.js';
import { FileOpener } from './lib/opener.js';
import { openParams, sealParams } from './lib/options.js';
import { FileSealer } from './lib/sealer.js';
import type { OpenOptions, OpenStreamResult, SealOptions, SealStreamResult } from './types.js';

/**
 * Sealing and opening from one file to another, for the CLI and `cloister run`. They drive the
 * state machines of `sealFile`/`openFile` directly: reads of 1 MiB into two reused buffers (the
 * next read overlapping the crypto of this one), and each read's output written with one
 * `writev`, overlapping too, with no stream machinery and no copy to gather the output. Memory
 * stays at a few MiB whatever the file size. Output goes to a temporary name beside the target, renamed over it
 * only once the whole file has been sealed, or opened and authenticated.
 */

/** Reads of 1 MiB: fewer system calls than the 64 KiB default; the state machines take any piece size. */
const READ_SIZE = 1 << 20;
/** Opened plaintext is private to whoever opened it. */
const PRIVATE = { dir: 0o700, file: 0o600 } as const;

/** What `transfer` runs: FileSealer or FileOpener. */
interface Machine<T> {
  /** Bytes that go before the first output (the header a sealer writes). */
  readonly first?: Buffer;
  write(piece: Uint8Array, emit: Emit): void;
  end(emit: Emit): T;
}

/** Writes every buffer, however many calls it takes (writev may write fewer bytes than asked). */
async function writeAll(handle: FileHandle, parts: Buffer[]): Promise<void> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  let written = (await handle.writev(parts)).bytesWritten;
  if (written === total) return;
  const rest = Buffer.concat(parts).subarray(written);
  for (let at = 0; at < rest.length; at += written) written = (await handle.write(rest, at)).bytesWritten;
}

/** The temporary name beside `file` that becomes `file` once complete. */
const partial = (file: string) => join(dirname(file), `.${randomBytes(6).toString('hex')}.cloister-partial`);

/**
 * Runs the machine `start(size)` over the bytes of `from`, writing its output to `to` through a
 * temporary file (renamed when `end` has returned), or dropping it when `to` is undefined.
 */
async function transfer<T>(from: string, to: string | undefined, start: (size: number) => Machine<T>, mode?: { dir: number; file: number }): Promise<T> {
  let source: FileHandle;
  try {
    source = await open(from, 'r');
  } catch (e) {
    throw ioError(from, 'read', e);
  }
  const tmp = to === undefined ? undefined : partial(to);
  let target: FileHandle | undefined;
  // At most one read and one write in flight beside the crypto on this thread: while piece k is
  // decrypted, piece k+1 is read and the output of piece k-1 written, on libuv's threads.
  let reading: Promise<unknown> = Promise.resolve();
  let writing: Promise<void> = Promise.resolve();
  try {
    const machine = start((await source.stat()).size);
    if (to !== undefined && tmp !== undefined) {
      await mkdir(dirname(to), { recursive: true, ...(mode && { mode: mode.dir }) });
      target = await open(tmp, 'wx', mode?.file);
    }
    const out: Buffer[] = machine.first ? [machine.first] : [];
    const emit: Emit = (bytes) => void out.push(bytes);
    const flush = async (): Promise<void> => {
      const parts = out.splice(0);
      await writing;
      writing = target !== undefined && parts.length > 0 ? writeAll(target, parts) : Promise.resolve();
    };
    const [a, b] = [Buffer.allocUnsafe(READ_SIZE), Buffer.allocUnsafe(READ_SIZE)];
    const read = (buffer: Buffer) => source.read(buffer, 0, READ_SIZE);
    let next = read(a);
    reading = next;
    for (;;) {
      const { bytesRead, buffer } = await next;
      if (bytesRead === 0) break;
      next = read(buffer === a ? b : a);
      reading = next;
      machine.write(buffer.subarray(0, bytesRead), emit);
      await flush();
    }
    const result = machine.end(emit);
    await flush();
    await writing;
    if (target !== undefined && to !== undefined && tmp !== undefined) {
      await target.close();
      target = undefined;
      await rename(tmp, to);
    }
    return result;
  } catch (e) {
    await Promise.allSettled([reading, writing]);
    await target?.close().catch(() => undefined);
    if (tmp !== undefined) await rm(tmp, { force: true }).catch(() => undefined);
    throw e instanceof CloisterError ? e : ioError(to ?? from, to === undefined ? 'read' : `write from ${from}`, e);
  } finally {
    await source.close().catch(() => undefined);
  }
}

/**
 * Seals the file `from` into `to` (its path inside the volume is `o.path`), reading it in
 * pieces; `to` appears only once complete. A file that changes size while it is sealed fails
 * with PROTECTED_OPTIONS_INVALID; I/O failures are IO naming the file. Not fsync'ed.
 *
 * @example
 * ```ts
 * const { root } = await sealToFile('app/main.py', 'app.sealed/main.py', { volumeKey, path: 'main.py', version: 1 });
 * ```
 */
export function sealToFile(from: string, to: string, o: SealOptions): Promise<SealStreamResult> {
  const p = sealParams({ ...o, fileName: from });
  return transfer(from, to, (length) => {
    const sealer = new FileSealer(p, length);
    return { first: sealer.header, write: (piece, emit) => sealer.write(piece, emit), end: (emit) => ({ root: sealer.end(emit), version: p.version, length }) };
  });
}

/**
 * Opens the sealed file `from` into `to` (mode 0600, new folders 0700), or only verifies it when
 * `to` is undefined, with `openFile`'s checks and errors (naming `o.fileName`, else `from`).
 * Plaintext goes to a temporary name beside `to`, renamed only once every chunk and the root
 * have checked out; on failure it is removed, so `to` never holds unauthenticated bytes.
 *
 * @example
 * ```ts
 * const { version } = await openToFile('app.sealed/main.py', '/run/app/main.py', { volumeKey, path: 'main.py', expectedVersion: 1 });
 * ```
 */
export function openToFile(from: string, to: string | undefined, o: OpenOptions): Promise<OpenStreamResult> {
  const opener = new FileOpener(openParams({ ...o, fileName: o.fileName ?? from }));
  return transfer(from, to, () => ({ write: (piece, emit) => opener.write(piece, emit), end: () => opener.end() }), PRIVATE);
}
