import { parentPort } from 'node:worker_threads';
import { failureOf, inline, type WorkerReply, type WorkerRequest } from './pool.js';

/**
 * The entry point of a ChunkPool thread (pool.ts), never imported: it seals or opens each run it
 * is sent, in the views of shared memory the request carries, and answers with the request's id.
 */
const port = parentPort;
if (port === null) throw new Error('src/protect/lib/worker.js is the entry point of a worker thread, not a module to import');
port.on('message', (request: WorkerRequest) => {
  inline.run(request).then(
    () => port.postMessage({ id: request.id, ok: true } satisfies WorkerReply),
    (e: unknown) => port.postMessage({ id: request.id, ok: false, failure: failureOf(e) } satisfies WorkerReply),
  );
});
