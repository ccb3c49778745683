import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CloisterError, type ErrorCode } from '../../lib/errors.js';
import { TAG_LENGTH } from '../format.js';
import { chunkError, lengthError, type ChunkContext } from '../lib/chunks.js';
import { refuse } from '../lib/options.js';
import { openRun, runSpan, sealRun, type ChunkRun, type RunSink, type RunSpan } from '../lib/runs.js';

/**
 * Where runs of chunks are sealed or opened: on the calling thread, or on a pool of worker
 * threads that read, seal or open, and write their runs themselves.
 */

/** One run to seal or open, from a buffer the caller leaves alone until the run has settled: `sealRun`/`openRun`'s arguments. */
export interface RunJob {
  readonly op: 'seal' | 'open';
  readonly ctx: ChunkContext;
  readonly run: ChunkRun;
  readonly input: Uint8Array;
  readonly output: RunSink;
}

/** Seals or opens a run on the thread that calls it (files.ts's own thread, or a pool thread); returns its tags. */
export const inline = {
  run: (job: RunJob): Uint8Array[] => (job.op === 'seal' ? sealRun : openRun)(job.ctx, job.run, job.input, job.output),
};

/**
 * One run for a pool thread, with the files it reads from and writes to (descriptors, shared by
 * the threads of a process): the thread reads the run's input at its offset, seals or opens it,
 * and writes the output at its offset, only once the whole run has succeeded.
 */
export interface FileJob {
  readonly op: 'seal' | 'open';
  readonly ctx: ChunkContext;
  readonly run: ChunkRun;
  readonly source: number;
  /** No descriptor: the output is dropped (verifying only). */
  readonly target: number | undefined;
}

/** Where a run's input is read and its output written: the plaintext and sealed spans, by direction. */
export function sides(job: Pick<FileJob, 'op' | 'ctx' | 'run'>): { input: RunSpan['plain']; output: RunSpan['plain'] } {
  const span = runSpan(job.ctx, job.run);
  return job.op === 'seal' ? { input: span.plain, output: span.sealed } : { input: span.sealed, output: span.plain };
}

/**
 * The error of a source that ended `got` bytes into a run (it changed since it was measured):
 * sealing, PROTECTED_OPTIONS_INVALID with the length read; opening, PROTECTED_TRUNCATED at the
 * chunk the file ends in.
 */
export function shortError(job: Pick<FileJob, 'op' | 'ctx' | 'run'>, got: number): CloisterError {
  const { ctx, run } = job;
  if (job.op === 'seal') return lengthError(ctx, `only ${runSpan(ctx, run).plain.offset + got}`);
  return chunkError(
    ctx,
    'PROTECTED_TRUNCATED',
    run.first + Math.floor(got / (ctx.chunkSize + TAG_LENGTH)),
    'is incomplete: the file ends early (truncated)',
  );
}

/** A message to a worker: a job with an id for its reply. */
export interface WorkerRequest extends FileJob {
  readonly id: number;
}

/** A CloisterError as it crosses threads (structured clone keeps no class): rebuilt on arrival. */
export interface WorkerFailure {
  readonly code?: ErrorCode;
  readonly message: string;
  readonly path?: string;
  readonly chunk?: number;
  readonly offset?: number;
  readonly field?: string;
}

/** A worker's answer to the request of `id`: the run's tags, in chunk order, for the root hash; or why the run failed. */
export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly tags: Uint8Array }
  | { readonly id: number; readonly ok: false; readonly failure: WorkerFailure };

/** What a worker reports of an error thrown by a run. */
export function failureOf(e: unknown): WorkerFailure {
  if (!(e instanceof CloisterError)) return { message: e instanceof Error ? e.message : String(e) };
  const { code, message, path, chunk, offset, field } = e;
  return {
    code,
    message,
    ...(path !== undefined && { path }),
    ...(chunk !== undefined && { chunk }),
    ...(offset !== undefined && { offset }),
    ...(field !== undefined && { field }),
  };
}

/** The error a worker reported, as the calling thread would have thrown it (an unexpected one is IO, naming the file). */
function errorOf(f: WorkerFailure, job: FileJob): CloisterError {
  if (f.code === undefined)
    return new CloisterError(
      'IO',
      `${job.ctx.name}: cannot read, ${job.op} or write chunks ${job.run.first}..${job.run.first + job.run.count - 1}: ${f.message}`,
      { path: job.ctx.name, chunk: job.run.first },
    );
  const { code, message, ...context } = f;
  return new CloisterError(code, message, context);
}

/** The most threads a pool starts: beyond this, file I/O rather than AES-GCM is the limit. */
export const MAX_THREADS = 16;

/** Worker threads for the chunk crypto when not told: one per core, at most 4 (beyond that, file I/O is the limit). */
export const defaultThreads = (): number => Math.min(4, availableParallelism());

/** The worker threads of file-to-file sealing and opening: 0 (the calling thread only) ..= 16; the default when undefined. */
export function toThreads(value: unknown): number {
  if (value === undefined) return defaultThreads();
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_THREADS)
    throw refuse('threads', `must be an integer from 0 to ${MAX_THREADS}`, value);
  return value;
}

interface Pending {
  readonly job: FileJob;
  readonly resolve: (tags: Uint8Array) => void;
  readonly reject: (e: unknown) => void;
}

/** One worker and the jobs it owes replies for. */
interface Lane {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

/**
 * `threads` worker threads (worker.ts) that each read a run of chunks from a file, seal or
 * open it, and write it to another, each job going to the thread with the fewest outstanding.
 * Only the job and the run's tags cross threads (keys as KeyObjects): handing the bytes to and
 * from the calling thread cost more than it saved (V8 copies into shared memory element by
 * element; moving buffers between threads made page faults and garbage collections). `close`
 * terminates the threads (call it in a `finally`); a thread that fails or exits fails its jobs
 * and the pool.
 *
 * @example
 * ```ts
 * const pool = new ChunkPool(2);
 * try { tags = await pool.run({ op: 'open', ctx, run, source: sealedFd, target: plainFd }); } finally { await pool.close(); }
 * ```
 */
export class ChunkPool {
  private readonly lanes: Lane[];
  private nextId = 0;
  /** Why the pool no longer takes jobs: closed, or a thread failed. */
  private broken: Error | undefined;

  constructor(threads: number) {
    this.lanes = Array.from({ length: threads }, () => this.start());
  }

  /** The number of threads. */
  get threads(): number {
    return this.lanes.length;
  }

  private start(): Lane {
    const worker = new Worker(new URL('./worker.js', import.meta.url));
    // An idle thread does not keep the process alive (a pool that is never closed cannot hang
    // it); a thread that owes a reply does, or a caller awaiting only that reply could see the
    // process exit under it.
    worker.unref();
    const lane: Lane = { worker, pending: new Map() };
    const settled = (id: number) => {
      lane.pending.delete(id);
      if (lane.pending.size === 0) worker.unref();
    };
    worker.on('message', (reply: WorkerReply) => {
      const p = lane.pending.get(reply.id);
      if (p === undefined) return;
      settled(reply.id);
      if (reply.ok) p.resolve(reply.tags);
      else p.reject(errorOf(reply.failure, p.job));
    });
    const fail = (why: Error) => {
      this.broken ??= why;
      for (const p of lane.pending.values())
        p.reject(
          new CloisterError('IO', `${p.job.ctx.name}: a chunk worker thread failed: ${why.message}`, {
            path: p.job.ctx.name,
            cause: why,
          }),
        );
      lane.pending.clear();
      worker.unref();
    };
    worker.on('error', fail);
    worker.on('exit', (exitCode) => fail(new Error(`the thread exited (code ${exitCode})`)));
    return lane;
  }

  /** Reads, seals or opens, and writes the run of `job` on a thread; resolves to its tags (16 bytes each, in order), rejects with its error. */
  run(job: FileJob): Promise<Uint8Array> {
    if (this.broken !== undefined)
      return Promise.reject(
        new CloisterError('IO', `${job.ctx.name}: the chunk worker threads are unavailable: ${this.broken.message}`, {
          path: job.ctx.name,
          cause: this.broken,
        }),
      );
    const lane = this.lanes.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      lane.pending.set(id, { job, resolve, reject });
      lane.worker.ref();
      const request: WorkerRequest = { id, ...job };
      lane.worker.postMessage(request);
    });
  }

  /** Terminates every thread; jobs still running fail. Idempotent. */
  async close(): Promise<void> {
    this.broken ??= new Error('the pool is closed');
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }
}
