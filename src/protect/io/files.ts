import { createHash, randomBytes, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CloisterError } from '../../lib/errors.js';
import { HEADER_LENGTH, TAG_LENGTH } from '../format.js';
import { chunkError, lengthError, type ChunkContext } from '../lib/chunks.js';
import { ioError } from './errors.js';
import { checkRoot, headerOf, verifyHeader } from '../lib/opener.js';
import { openParams, sealParams } from '../lib/options.js';
import { ChunkPool, inline, shortError, toThreads } from './pool.js';
import { runSpan, runsOf, type ChunkRun, type RunSpan } from '../lib/runs.js';
import { FileSealer } from '../lib/sealer.js';
import type { OpenOptions, OpenStreamResult, SealOptions, SealStreamResult, TransferOptions } from '../types.js';

/**
 * Sealing and opening from one file to another, for the CLI and `cloister run`. The file is cut
 * into runs of whole chunks (4 MiB of plaintext each), each read with one positional read,
 * sealed or opened (runs.ts) and written with one positional write once the whole run has
 * succeeded; the tags go into the root hash in file order. Large files go to a pool of worker
 * threads that do all three for their runs (pool.ts, worker.ts); small ones stay on this thread,
 * reading the next run and writing the previous one while a run is sealed or opened. Memory is
 * about 8 MiB per thread (16 MiB on this thread alone) whatever the file size. Output goes to a
 * temporary name beside the target, renamed over it only once the whole file has been sealed,
 * or opened and authenticated.
 */

/**
 * Plaintext bytes per run: fewer, larger reads, writes and thread messages than one per 64 KiB
 * chunk; 4 MiB opened and sealed 10-20% faster than 1 MiB with two threads here.
 */
const RUN_BYTES = 4 << 20;
/** Files below this size stay on the calling thread: starting worker threads costs tens of milliseconds. */
const PARALLEL_MIN = 8 << 20;
/** Opened plaintext is private to whoever opened it. */
const PRIVATE = { dir: 0o700, file: 0o600 } as const;

/**
 * The executor of a file or a folder of files: the calling thread for small files, else a pool
 * of worker threads started on first use and shared by every later file until `close`.
 */
export class Executors {
  private pool: ChunkPool | undefined;

  /** `parallelMin` and `runBytes` are for tests, which put small files on threads in small runs. */
  constructor(
    private readonly threads: number,
    private readonly parallelMin = PARALLEL_MIN,
    private readonly runBytes = RUN_BYTES,
  ) {}

  /** Chunks per run of a file of `ctx`: `runBytes` of plaintext, at least one chunk. */
  perRun(ctx: ChunkContext): number {
    return Math.max(1, Math.floor(this.runBytes / ctx.chunkSize));
  }

  /** The pool for a file of `bytes` bytes, or undefined for this thread. */
  for(bytes: number): ChunkPool | undefined {
    if (this.threads === 0 || (this.pool === undefined && bytes < this.parallelMin)) return undefined;
    this.pool ??= new ChunkPool(this.threads);
    return this.pool;
  }

  /** Terminates the pool's threads, if any were started. */
  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
  }
}

/** Reads up to `into.length` bytes at `position`, however many calls it takes; returns how many (fewer only at the end of the file). */
async function readFully(handle: FileHandle, into: Uint8Array, position: number): Promise<number> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await handle.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/** Writes all of `bytes` at `position`, however many calls it takes. */
async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let at = 0; at < bytes.length;)
    at += (await handle.write(bytes, at, bytes.length - at, position + at)).bytesWritten;
}

/** How one direction lays out a run: where its input is read and its output written. */
interface Direction {
  readonly op: 'seal' | 'open';
  /** [offset, offset + length) of the run in the file read. */
  input(span: RunSpan): { offset: number; length: number };
  /** [offset, offset + length) of the run in the file written. */
  output(span: RunSpan): { offset: number; length: number };
}

const SEAL: Direction = {
  op: 'seal',
  input: (span) => span.plain,
  output: (span) => span.sealed,
};

const OPEN: Direction = {
  op: 'open',
  input: (span) => span.sealed,
  output: (span) => span.plain,
};

/** A run's buffers, reused by later runs once its output is written, and the tags of the run they hold (views of `input` when opening). */
interface Slot {
  readonly input: Uint8Array;
  readonly output: Uint8Array;
  tags: Uint8Array[];
}

/**
 * Seals or opens `runs` of `ctx` from `source` into `target` (or nowhere), hashing their tags
 * into `root` in order, on this thread: while a run is sealed or opened, the next is read and the
 * previous written on libuv's threads. Outputs are written one at a time in file order, each
 * only once its run has succeeded, so a failed run writes nothing. On failure, waits for the
 * runs in flight before rethrowing the first error in file order (runs.ts names the chunk).
 */
async function pump(
  d: Direction,
  ctx: ChunkContext,
  source: FileHandle,
  target: FileHandle | undefined,
  runs: ChunkRun[],
  root: Hash,
): Promise<void> {
  if (runs[0] === undefined) return;
  // The first run is the largest: all runs but the last hold the same number of whole chunks.
  const first = runSpan(ctx, runs[0]);
  const most = (side: 'input' | 'output') => d[side](first).length;
  const free: Slot[] = Array.from({ length: Math.min(runs.length, 2) }, () => ({
    input: new Uint8Array(most('input')),
    output: new Uint8Array(most('output')),
    tags: [],
  }));
  const started: Promise<Slot>[] = [];
  const start = (i: number, slot: Slot): Promise<Slot> => {
    const run = runs[i] as ChunkRun;
    const span = runSpan(ctx, run);
    const from = d.input(span);
    const input = slot.input.subarray(0, from.length);
    const output = slot.output.subarray(0, d.output(span).length);
    const work = (async () => {
      const got = await readFully(source, input, from.offset);
      if (got < from.length) throw shortError({ op: d.op, ctx, run }, got);
      slot.tags = inline.run({ op: d.op, ctx, run, input, output });
      return slot;
    })();
    work.catch(() => undefined); // awaited in file order below
    return work;
  };
  try {
    for (let i = 0; i < runs.length; i++) {
      while (started.length < runs.length && free.length > 0) started.push(start(started.length, free.pop() as Slot));
      const slot = await (started[i] as Promise<Slot>);
      const out = d.output(runSpan(ctx, runs[i] as ChunkRun));
      for (const tag of slot.tags) root.update(tag);
      if (target !== undefined) await writeFully(target, slot.output.subarray(0, out.length), out.offset);
      free.push(slot);
    }
  } finally {
    await Promise.allSettled(started);
  }
}

/**
 * `pump` on the threads of `pool`: each thread reads, seals or opens, and writes whole runs
 * itself, two runs per thread in flight, and only the tags come back to this thread, which
 * hashes them in file order. A run's output is written only once the whole run has succeeded;
 * later runs may have been written when an earlier one fails, to the temporary file that is
 * then removed. The first error in file order is rethrown once every run in flight has settled.
 */
async function pumpThreads(
  op: 'seal' | 'open',
  ctx: ChunkContext,
  source: FileHandle,
  target: FileHandle | undefined,
  runs: ChunkRun[],
  pool: ChunkPool,
  root: Hash,
): Promise<void> {
  const started: Promise<Uint8Array>[] = [];
  const start = (run: ChunkRun) => {
    const work = pool.run({ op, ctx, run, source: source.fd, target: target?.fd });
    work.catch(() => undefined); // awaited in file order below
    started.push(work);
  };
  try {
    for (let i = 0; i < runs.length; i++) {
      while (started.length < runs.length && started.length < i + 2 * pool.threads)
        start(runs[started.length] as ChunkRun);
      root.update(await (started[i] as Promise<Uint8Array>));
    }
  } finally {
    await Promise.allSettled(started);
  }
}

/** The runs of `ctx` from `source` to `target` on this thread or on `executors`' threads. */
function runAll(
  executors: Executors,
  size: number,
  op: 'seal' | 'open',
  ctx: ChunkContext,
  source: FileHandle,
  target: FileHandle | undefined,
  runs: ChunkRun[],
  root: Hash,
): Promise<void> {
  const pool = executors.for(size);
  return pool === undefined
    ? pump(op === 'seal' ? SEAL : OPEN, ctx, source, target, runs, root)
    : pumpThreads(op, ctx, source, target, runs, pool, root);
}

/** The temporary name beside `file` that becomes `file` once complete. */
const partial = (file: string) => join(dirname(file), `.${randomBytes(6).toString('hex')}.cloister-partial`);

/** How a transfer writes its output: the modes of new folders and the file, and whether it is made durable. */
interface Output {
  readonly mode?: { readonly dir: number; readonly file: number };
  /** fsync the file before its rename: a sealed file is what a coordinator records (its folder is synced by the caller, once). */
  readonly sync: boolean;
}

/**
 * Opens `from` and runs `work` over it and its size, then `to`: a temporary file beside it that
 * `work` fills and that is renamed to `to` only when `work` has returned (or no file at all when
 * `to` is undefined). On failure the temporary file is removed; I/O failures are IO naming the file.
 */
async function transfer<T>(
  from: string,
  to: string | undefined,
  output: Output,
  work: (source: FileHandle, size: number, target: () => Promise<FileHandle | undefined>) => Promise<T>,
): Promise<T> {
  let source: FileHandle;
  try {
    source = await open(from, 'r');
  } catch (e) {
    throw ioError(from, 'read', e);
  }
  const tmp = to === undefined ? undefined : partial(to);
  let target: FileHandle | undefined;
  const openTarget = async (): Promise<FileHandle | undefined> => {
    if (to === undefined || tmp === undefined) return undefined;
    await mkdir(dirname(to), { recursive: true, ...(output.mode && { mode: output.mode.dir }) });
    target = await open(tmp, 'wx', output.mode?.file);
    return target;
  };
  try {
    const result = await work(source, (await source.stat()).size, openTarget);
    if (target !== undefined && to !== undefined && tmp !== undefined) {
      if (output.sync) await target.sync();
      await target.close();
      target = undefined;
      await rename(tmp, to);
    }
    return result;
  } catch (e) {
    await target?.close().catch(() => undefined);
    if (target !== undefined && tmp !== undefined) await rm(tmp, { force: true }).catch(() => undefined);
    throw e instanceof CloisterError ? e : ioError(to ?? from, to === undefined ? 'read' : `write from ${from}`, e);
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** Whether `source` has a byte at `position`: a file that grew since it was measured. */
async function hasMore(source: FileHandle, position: number): Promise<boolean> {
  return (await readFully(source, new Uint8Array(1), position)) > 0;
}

/** `sealToFile` with the executors of a file or a folder (`salt` for known-answer tests only). */
export async function sealWith(
  executors: Executors,
  from: string,
  to: string,
  o: SealOptions,
  salt?: Uint8Array,
): Promise<SealStreamResult> {
  const p = sealParams({ ...o, fileName: from });
  return transfer(from, to, { sync: true }, async (source, length, openTarget) => {
    const { header, ctx } = new FileSealer(p, length, ...(salt === undefined ? [] : [salt]));
    const root = createHash('sha256').update(header);
    const target = await openTarget();
    if (target !== undefined) await writeFully(target, header, 0);
    await runAll(executors, length, 'seal', ctx, source, target, runsOf(ctx, executors.perRun(ctx)), root);
    if (await hasMore(source, length)) throw lengthError(ctx, `more than ${length}`);
    return { root: new Uint8Array(root.digest()), version: p.version, length };
  });
}

/** `openToFile` with the executors of a file or a folder. */
export async function openWith(
  executors: Executors,
  from: string,
  to: string | undefined,
  o: OpenOptions,
): Promise<OpenStreamResult> {
  const p = openParams({ ...o, fileName: o.fileName ?? from });
  return transfer(from, to, { mode: PRIVATE, sync: false }, async (source, size, openTarget) => {
    const head = new Uint8Array(Math.min(size, HEADER_LENGTH));
    const header = headerOf(p, head.subarray(0, await readFully(source, head, 0)));
    const ctx = verifyHeader(p, header);
    // A file shorter than its header declares is opened up to its last whole chunk, then
    // refused as truncated at the next one, as the chunk opener reports it.
    const whole =
      size >= header.sealedLength
        ? ctx.count
        : Math.min(ctx.count - 1, Math.floor((size - HEADER_LENGTH) / (ctx.chunkSize + TAG_LENGTH)));
    const root = createHash('sha256').update(header.bytes);
    const target = await openTarget();
    await runAll(executors, size, 'open', ctx, source, target, runsOf({ count: whole }, executors.perRun(ctx)), root);
    if (whole < ctx.count)
      throw chunkError(ctx, 'PROTECTED_TRUNCATED', whole, 'is incomplete: the file ends early (truncated)');
    if (await hasMore(source, header.sealedLength)) {
      throw chunkError(
        ctx,
        'PROTECTED_INTEGRITY',
        ctx.count,
        `follows the final chunk: ${Math.max(1, size - header.sealedLength)} unexpected bytes (the file was extended)`,
      );
    }
    const digest = new Uint8Array(root.digest());
    checkRoot(p, digest);
    return { version: header.version, root: digest, length: header.length };
  });
}

/** Runs `work` with executors of `threads` threads, closing them afterwards. */
export async function withExecutors<T>(threads: number | undefined, work: (e: Executors) => Promise<T>): Promise<T> {
  const executors = new Executors(toThreads(threads));
  try {
    return await work(executors);
  } finally {
    await executors.close();
  }
}

/**
 * Seals the file `from` into `to` (its path inside the volume is `o.path`), reading it in runs
 * of chunks, sealed on `o.threads` worker threads when the file is 8 MiB or more; `to` appears
 * only once complete. A file that changes size while it is sealed fails with
 * PROTECTED_OPTIONS_INVALID; I/O failures are IO naming the file. The file is fsync'ed before
 * its rename; syncing the folder that holds it is the caller's (once for many files).
 *
 * @example
 * ```ts
 * const { root } = await sealToFile('app/main.py', 'app.sealed/main.py', { volumeKey, path: 'main.py', version: 1 });
 * ```
 */
export function sealToFile(from: string, to: string, o: SealOptions & TransferOptions): Promise<SealStreamResult> {
  return withExecutors(o.threads, (e) => sealWith(e, from, to, o));
}

/**
 * Opens the sealed file `from` into `to` (mode 0600, new folders 0700), or only verifies it when
 * `to` is undefined, with `openFile`'s checks and errors (naming `o.fileName`, else `from`),
 * on `o.threads` worker threads when the file is 8 MiB or more. Plaintext goes to a temporary
 * name beside `to`, a run of chunks only once all its chunks have authenticated, and is renamed
 * to `to` only once every chunk and the root have checked out; on failure it is removed, so `to`
 * never holds unauthenticated bytes. Not fsync'ed.
 *
 * @example
 * ```ts
 * const { version } = await openToFile('app.sealed/main.py', '/run/app/main.py', { volumeKey, path: 'main.py', expectedVersion: 1 });
 * ```
 */
export function openToFile(
  from: string,
  to: string | undefined,
  o: OpenOptions & TransferOptions,
): Promise<OpenStreamResult> {
  return withExecutors(o.threads, (e) => openWith(e, from, to, o));
}
