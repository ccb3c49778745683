import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CloisterError, type ErrorCode } from '../../lib/errors.js';
import type { ChunkContext } from './chunks.js';
import { openRun, sealRun, type ChunkRun } from './runs.js';

/**
 * Where runs of chunks are sealed or opened: on the calling thread, or on a pool of worker
 * threads. The caller touches neither a run's input nor its output until the run has settled.
 */

/** One run to seal or open: `sealRun`/`openRun`'s arguments. */
export interface RunJob {
  readonly op: 'seal' | 'open';
  readonly ctx: ChunkContext;
  readonly run: ChunkRun;
  readonly input: Uint8Array;
  readonly output: Uint8Array;
}

export interface Executor {
  /**
   * Whether inputs must be views of a SharedArrayBuffer (the pool's threads read them there) and
   * outputs views of an ArrayBuffer of their own (moved to the thread that fills them and back).
   */
  readonly shared: boolean;
  /**
   * Fills `job.output`; resolves to the filled output, to use instead of `job.output` from then
   * on (the same bytes, possibly a new view: the pool moves the buffer between threads). Rejects
   * with the run's error (a failing chunk names itself).
   */
  run(job: RunJob): Promise<Uint8Array>;
}

const execute = (job: RunJob): Uint8Array => {
  (job.op === 'seal' ? sealRun : openRun)(job.ctx, job.run, job.input, job.output);
  return job.output;
};

/** The calling thread: runs execute one at a time, I/O still overlapping them on libuv's threads. */
export const inline: Executor = {
  shared: false,
  run: async (job) => execute(job),
};

/** A message to a worker: a job with an id for its reply. */
export interface WorkerRequest extends RunJob {
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

/** A worker's answer to the request of `id`: the filled output (its buffer moved back), or why the run failed. */
export type WorkerReply = { readonly id: number; readonly ok: true; readonly output: Uint8Array } | { readonly id: number; readonly ok: false; readonly failure: WorkerFailure };

/** What a worker reports of an error thrown by a run. */
export function failureOf(e: unknown): WorkerFailure {
  if (!(e instanceof CloisterError)) return { message: e instanceof Error ? e.message : String(e) };
  const { code, message, path, chunk, offset, field } = e;
  return { code, message, ...(path !== undefined && { path }), ...(chunk !== undefined && { chunk }), ...(offset !== undefined && { offset }), ...(field !== undefined && { field }) };
}

/** The error a worker reported, as the calling thread would have thrown it (an unexpected one is IO, naming the file). */
function errorOf(f: WorkerFailure, job: RunJob): CloisterError {
  if (f.code === undefined) return new CloisterError('IO', `${job.ctx.name}: a chunk worker thread failed: ${f.message}`, { path: job.ctx.name });
  const { code, message, ...context } = f;
  return new CloisterError(code, message, context);
}

/** The most threads a pool starts: beyond this, file I/O rather than AES-GCM is the limit. */
export const MAX_THREADS = 16;

/** Worker threads for the chunk crypto when not told: one per core, at most 4 (beyond that, file I/O is the limit). */
export const defaultThreads = (): number => Math.min(4, availableParallelism());

interface Pending {
  readonly job: RunJob;
  readonly resolve: (output: Uint8Array) => void;
  readonly reject: (e: unknown) => void;
}

/** One worker and the jobs it owes replies for. */
interface Lane {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

/**
 * `threads` worker threads (lib/worker.ts) that seal and open runs of chunks, each job going to
 * the thread with the fewest outstanding. Nothing is copied between threads: inputs are views of
 * SharedArrayBuffers; outputs are ArrayBuffers moved to the worker with the job and back with
 * the reply (V8 copies into shared memory element by element, several times slower than the
 * memcpy into a buffer of one's own, and buffers made in the worker and freed by the calling
 * thread cost page faults); keys cross as KeyObjects. `close` terminates the threads
 * (call it in a `finally`); a thread that fails or exits fails its jobs and the pool.
 *
 * @example
 * ```ts
 * const pool = new ChunkPool(2);
 * try { await pool.run({ op: 'open', ctx, run, input, output }); } finally { await pool.close(); }
 * ```
 */
export class ChunkPool implements Executor {
  readonly shared = true;
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
      if (reply.ok) p.resolve(reply.output);
      else p.reject(errorOf(reply.failure, p.job));
    });
    const fail = (why: Error) => {
      this.broken ??= why;
      for (const p of lane.pending.values()) p.reject(new CloisterError('IO', `${p.job.ctx.name}: a chunk worker thread failed: ${why.message}`, { path: p.job.ctx.name, cause: why }));
      lane.pending.clear();
      worker.unref();
    };
    worker.on('error', fail);
    worker.on('exit', (exitCode) => fail(new Error(`the thread exited (code ${exitCode})`)));
    return lane;
  }

  run(job: RunJob): Promise<Uint8Array> {
    if (this.broken !== undefined) return Promise.reject(new CloisterError('IO', `${job.ctx.name}: the chunk worker threads are unavailable: ${this.broken.message}`, { path: job.ctx.name, cause: this.broken }));
    if (!(job.input.buffer instanceof SharedArrayBuffer) || !(job.output.buffer instanceof ArrayBuffer)) {
      return Promise.reject(new TypeError('a pool job reads a view of a SharedArrayBuffer and fills a view of an ArrayBuffer of its own'));
    }
    const lane = this.lanes.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      lane.pending.set(id, { job, resolve, reject });
      lane.worker.ref();
      const request: WorkerRequest = { id, ...job };
      lane.worker.postMessage(request, [job.output.buffer as ArrayBuffer]);
    });
  }

  /** Terminates every thread; jobs still running fail. Idempotent. */
  async close(): Promise<void> {
    this.broken ??= new Error('the pool is closed');
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }
}
