import { readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import type https from 'node:https';
import { router } from '../../server/http.js';
import { httpsServer, listen } from '../../server/listen.js';
import { CloisterError } from '../../lib/errors.js';
import { answerReview } from './review.js';
import type { InjectionConfig } from './mutate.js';

/** `cloister webhook`: the mutating admission webhook over HTTPS (`POST /mutate`, `GET /healthz`). */

export interface WebhookOptions {
  config: InjectionConfig;
  certFile: string;
  keyFile: string;
  host: string;
  port: number;
  log: (entry: Record<string, unknown>) => void;
  /** Hears of each review: `patched`, `unchanged`, or the error code of a refused request (for the metrics). */
  reviewed?: (result: string) => void;
}

function readTls(o: WebhookOptions): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(o.certFile), key: readFileSync(o.keyFile) };
  } catch (cause) {
    throw new CloisterError('IO', `cannot read the webhook's TLS certificate or key: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Serves the webhook until `close()`. A renewed certificate (a Secret updated in place) is picked
 * up without a restart.
 *
 * @example
 * ```ts
 * const hook = await startWebhook({ config, certFile: 'tls.crt', keyFile: 'tls.key', host: '0.0.0.0', port: 9443, log });
 * ```
 */
export async function startWebhook(o: WebhookOptions): Promise<{ server: https.Server; close(): Promise<void> }> {
  const server = httpsServer(
    readTls(o),
    router(
      {
        'POST /mutate': (req) => {
          let a: ReturnType<typeof answerReview>;
          try {
            a = answerReview(req.json(), o.config);
          } catch (error) {
            o.reviewed?.(error instanceof CloisterError ? error.code : 'INTERNAL');
            throw error;
          }
          o.reviewed?.(a.patched ? 'patched' : 'unchanged');
          if (a.service !== undefined)
            o.log({ level: 'info', event: 'admission', service: a.service, patched: a.patched });
          return { json: a.review };
        },
        'GET /healthz': () => ({ json: { ok: true } }),
      },
      o.log,
      // Pods can be large (many containers, long environments); the API server sends at most 3 MiB.
      3 << 20,
    ),
  );
  // The folder, not the file: a Secret volume is updated by swapping its `..data` link.
  const watcher = watch(dirname(o.certFile), () => {
    try {
      server.setSecureContext(readTls(o));
      o.log({ level: 'info', event: 'tls-reloaded' });
    } catch (error) {
      o.log({ level: 'warn', event: 'tls-reload-failed', message: (error as Error).message });
    }
  });
  await listen(server, o.host, o.port);
  return {
    server,
    close: () => {
      watcher.close();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
