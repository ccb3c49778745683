import { readSync, writeSync, writevSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { failureOf, inline, shortError, sides, type WorkerReply, type WorkerRequest } from './pool.js';

/**
 * The entry point of a ChunkPool thread (pool.ts), never imported: for each job, it reads the
 * run from the source descriptor, seals or opens it, writes the output to the target descriptor
 * once the whole run has succeeded (synchronous I/O: this thread has nothing else to do
 * meanwhile), and answers with the job's id and the run's tags.
 */
const port = parentPort;
if (port === null)
  throw new Error('src/protect/io/worker.js is the entry point of a worker thread, not a module to import');

/** The input buffer, reused from run to run, grown to the largest run seen. */
let buffer = new Uint8Array(0);

/** Writes `parts` at `position` with one writev, however many calls it takes. */
function writeAll(fd: number, parts: Buffer[], position: number): void {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const written = writevSync(fd, parts, position);
  if (written === total) return;
  const rest = Buffer.concat(parts).subarray(written);
  for (let at = 0; at < rest.length;) at += writeSync(fd, rest, at, rest.length - at, position + written + at);
}

function work(job: WorkerRequest): Uint8Array {
  const { input: from, output: to } = sides(job);
  if (buffer.length < from.length) buffer = new Uint8Array(from.length);
  const input = buffer.subarray(0, from.length);
  let got = 0;
  for (let n = -1; got < from.length && n !== 0; got += n)
    n = readSync(job.source, input, got, from.length - got, from.offset + got);
  if (got < from.length) throw shortError(job, got);
  // The cipher's output pieces, written as they are: copying them into one buffer cost 5-8%.
  const parts: Buffer[] = [];
  const tags = inline.run({ op: job.op, ctx: job.ctx, run: job.run, input, output: (piece) => void parts.push(piece) });
  if (job.target !== undefined) writeAll(job.target, parts, to.offset);
  return new Uint8Array(Buffer.concat(tags));
}

port.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { id: request.id, ok: true, tags: work(request) };
  } catch (e) {
    reply = { id: request.id, ok: false, failure: failureOf(e) };
  }
  port.postMessage(reply);
});
