import { readSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { failureOf, inline, shortError, sides, type WorkerReply, type WorkerRequest } from './pool.js';
import { runTags } from './runs.js';

/**
 * The entry point of a ChunkPool thread (pool.ts), never imported: for each job, it reads the
 * run from the source descriptor, seals or opens it, writes the output to the target descriptor
 * once the whole run has succeeded (synchronous I/O: this thread has nothing else to do
 * meanwhile), and answers with the job's id and the run's tags.
 */
const port = parentPort;
if (port === null) throw new Error('src/protect/lib/worker.js is the entry point of a worker thread, not a module to import');

/** Buffers reused from run to run, grown to the largest run seen. */
let buffers = { input: new Uint8Array(0), output: new Uint8Array(0) };

async function work(job: WorkerRequest): Promise<Uint8Array> {
  const { input: from, output: to } = sides(job);
  if (buffers.input.length < from.length || buffers.output.length < to.length) {
    buffers = { input: new Uint8Array(Math.max(from.length, buffers.input.length)), output: new Uint8Array(Math.max(to.length, buffers.output.length)) };
  }
  const input = buffers.input.subarray(0, from.length);
  const output = buffers.output.subarray(0, to.length);
  let got = 0;
  for (let n = -1; got < from.length && n !== 0; got += n) n = readSync(job.source, input, got, from.length - got, from.offset + got);
  if (got < from.length) throw shortError(job, got);
  await inline.run({ op: job.op, ctx: job.ctx, run: job.run, input, output });
  if (job.target !== undefined) {
    for (let at = 0; at < output.length;) at += writeSync(job.target, output, at, output.length - at, to.offset + at);
  }
  return new Uint8Array(Buffer.concat(runTags(job.ctx, job.run, job.op === 'seal' ? output : input)));
}

port.on('message', (request: WorkerRequest) => {
  work(request).then(
    (tags) => port.postMessage({ id: request.id, ok: true, tags } satisfies WorkerReply),
    (e: unknown) => port.postMessage({ id: request.id, ok: false, failure: failureOf(e) } satisfies WorkerReply),
  );
});
