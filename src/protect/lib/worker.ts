import { parentPort } from 'node:worker_threads';
import { failureOf, inline, type WorkerReply, type WorkerRequest } from './pool.js';

/**
 * The entry point of a ChunkPool thread (pool.ts), never imported: it seals or opens each run it
 * is sent, from the view of shared memory the request carries into the output buffer it moved
 * here, and answers with the request's id, moving the output back.
 */
const port = parentPort;
if (port === null) throw new Error('src/protect/lib/worker.js is the entry point of a worker thread, not a module to import');
port.on('message', (request: WorkerRequest) => {
  inline.run(request).then(
    (output) => port.postMessage({ id: request.id, ok: true, output } satisfies WorkerReply, [output.buffer as ArrayBuffer]),
    (e: unknown) => port.postMessage({ id: request.id, ok: false, failure: failureOf(e) } satisfies WorkerReply),
  );
});
