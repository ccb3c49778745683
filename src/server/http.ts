import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { CloisterError, type ErrorCode } from '../lib/errors.js';

/**
 * The HTTP core shared by the client and mesh APIs: routing, body limits applied before any
 * handler runs, and the one place where errors become responses (RFC 7807 problem details).
 */

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The DER client certificate, when the peer presented one. */
  clientCert: Uint8Array | undefined;
  body: Uint8Array;
  json(): unknown;
}

export type Reply = { status?: number; json: unknown } | { status?: number; text: string; type: string };

export const MAX_BODY = 1 << 20;
export type Handler = (req: Request) => Promise<Reply> | Reply;

/** Error codes that carry a public status; everything else is answered with a generic 500. */
const PUBLIC_STATUS: Partial<Record<ErrorCode, number>> = {
  USAGE: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_TEMPLATE: 400,
  MANIFEST_ALREADY_SET: 409,
  MANIFEST_MISSING: 409,
  REQUEST_INVALID: 400,
  REQUEST_TOO_LARGE: 413,
  NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NONCE_INVALID: 403,
  ACTIVATION_REFUSED: 403,
  SECRET_INVALID: 400,
  VERSION_CONFLICT: 409,
  UPDATE_INVALID: 400,
  UPDATE_NOT_PENDING: 409,
  UPDATE_MISMATCH: 409,
};

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    return Promise.reject(new CloisterError('REQUEST_TOO_LARGE', `request body of ${declared} bytes exceeds ${limit}`));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new CloisterError('REQUEST_TOO_LARGE', `request body exceeds ${limit} bytes`));
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
    req.on('error', reject);
  });
}

/**
 * How a route table answers errors: which codes carry a public status, and the body of an error
 * answer. Generic 500s use the same body with the code INTERNAL.
 *
 * @example `router(routes, log, MAX_BODY, { statuses: { NOT_FOUND: 404 }, body: (status, code, message) => ({ type: 'application/json', text: JSON.stringify({ code, message }) }) })`
 */
export interface ErrorStyle {
  statuses: Partial<Record<ErrorCode, number>>;
  body(status: number, code: string, message: string): { type: string; text: string };
}

/** The client and mesh APIs' style: RFC 7807 problem details. */
export const PROBLEM_DETAILS: ErrorStyle = {
  statuses: PUBLIC_STATUS,
  body: (status, code, detail) => ({
    type: 'application/problem+json',
    text: JSON.stringify({
      type: `https://cloister.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
      title: code,
      status,
      detail,
      code,
    }),
  }),
};

function answerError(res: ServerResponse, style: ErrorStyle, status: number, code: string, message: string): void {
  const { type, text } = style.body(status, code, message);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * A request listener over a route table `"METHOD /path"` → handler. Errors are answered in
 * `style`, or in the style a function of the path chooses (when one server hosts two APIs).
 *
 * @example
 * ```ts
 * https.createServer(tlsOptions, router({ 'GET /api/v1/status': () => ({ json: { ok: true } }) }, log));
 * ```
 */
export function router(
  routes: Readonly<Record<string, Handler>>,
  log: (entry: Record<string, unknown>) => void,
  maxBody = MAX_BODY,
  style: ErrorStyle | ((path: string) => ErrorStyle) = PROBLEM_DETAILS,
) {
  const styleOf = typeof style === 'function' ? style : () => style;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://cloister.invalid');
    const method = req.method ?? 'GET';
    try {
      const handler = routes[`${method} ${url.pathname}`];
      if (!handler) {
        const known = Object.keys(routes).some((r) => r.endsWith(` ${url.pathname}`));
        throw new CloisterError(
          'NOT_FOUND',
          known ? `${method} is not allowed on ${url.pathname}` : `no such endpoint: ${url.pathname}`,
        );
      }
      const body = await readBody(req, maxBody);
      const peer = (req.socket as Partial<TLSSocket>).getPeerCertificate?.();
      const request: Request = {
        method,
        path: url.pathname,
        query: url.searchParams,
        clientCert: peer && peer.raw ? new Uint8Array(peer.raw) : undefined,
        body,
        json() {
          try {
            return JSON.parse(Buffer.from(body).toString('utf8')) as unknown;
          } catch {
            throw new CloisterError('REQUEST_INVALID', 'request body is not valid JSON');
          }
        },
      };
      const reply = await handler(request);
      const isJson = 'json' in reply;
      const text = isJson ? JSON.stringify(reply.json) : reply.text;
      res.writeHead(reply.status ?? 200, {
        'content-type': isJson ? 'application/json' : reply.type,
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    } catch (error) {
      const e = error instanceof CloisterError ? error : undefined;
      const errors = styleOf(url.pathname);
      const status = e ? errors.statuses[e.code] : undefined;
      log({
        level: status ? 'warn' : 'error',
        method,
        path: url.pathname,
        code: e?.code ?? 'INTERNAL',
        message: error instanceof Error ? error.message : String(error),
      });
      if (e && status) answerError(res, errors, status, e.code, e.message);
      else answerError(res, errors, 500, 'INTERNAL', 'internal error (logged by the server)');
    }
  };
  return (req: IncomingMessage, res: ServerResponse): void => void handle(req, res);
}
