import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { CloisterError, type ErrorCode } from '../lib/errors.js';

/**
 * The HTTP core shared by the client and mesh APIs: routing, body limits applied before any
 * handler runs, and the one place where errors become responses (RFC 9457 problem details).
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

/** A handler's answer; `headers` are added to the answer's own (content type and length). */
export type Reply = { status?: number; headers?: Record<string, string> } & (
  { json: unknown } | { text: string; type: string }
);

export const MAX_BODY = 1 << 20;
export type Handler = (req: Request) => Promise<Reply> | Reply;

/** The router's own refusals: their status whatever the error style. */
const ROUTING_STATUS: Partial<Record<ErrorCode, number>> = {
  REQUEST_INVALID: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TOO_LARGE: 413,
};

/** Error codes that carry a public status; everything else is answered with a generic 500. */
const PUBLIC_STATUS: Partial<Record<ErrorCode, number>> = {
  ...ROUTING_STATUS,
  USAGE: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_TEMPLATE: 400,
  MANIFEST_ALREADY_SET: 409,
  MANIFEST_MISSING: 409,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NONCE_INVALID: 403,
  ACTIVATION_REFUSED: 403,
  SECRET_INVALID: 400,
  VERSION_CONFLICT: 409,
  UPDATE_INVALID: 400,
  UPDATE_NOT_PENDING: 409,
  UPDATE_MISMATCH: 409,
  RECOVERY_MODE: 503,
  RECOVERY_UNAVAILABLE: 409,
  RECOVERY_SHARE_INVALID: 403,
  RECOVERY_SHARE_USED: 409,
  RECOVERY_FAILED: 403,
};

const ORIGIN = 'https://cloister.invalid';

/**
 * The URL of a request target. The origin-form `/path?query` (RFC 9112 §3.2.1) is read as a path
 * under a fixed origin, so that `//host/x` is the path `//host/x` and never a reference to another
 * host's `/x`; the absolute-form (§3.2.2) is accepted, as servers must. Anything else (the
 * authority and asterisk forms, or a URL that does not parse) is REQUEST_INVALID.
 *
 * @example `requestUrl('/api/v1/secrets?s=a').pathname // '/api/v1/secrets'`
 */
export function requestUrl(target: string): URL {
  try {
    if (target.startsWith('/')) return new URL(`${ORIGIN}${target}`);
    if (/^https?:\/\//i.test(target)) return new URL(target);
  } catch {
    // an absolute-form target that is not a URL: refused below
  }
  throw new CloisterError('REQUEST_INVALID', 'the request target is neither a path nor an absolute https URL');
}

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    return Promise.reject(new CloisterError('REQUEST_TOO_LARGE', `request body of ${declared} bytes exceeds ${limit}`));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    // A chunked body has no declared length: it is counted as it arrives.
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Nothing more is read or kept; the answer closes the connection (see answerError).
        req.off('data', onData).pause();
        reject(new CloisterError('REQUEST_TOO_LARGE', `request body exceeds ${limit} bytes`));
        return;
      }
      parts.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
    req.on('error', (cause) =>
      reject(new CloisterError('REQUEST_INVALID', 'the connection ended before the request body did', { cause })),
    );
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A body as JSON, which is UTF-8 (RFC 8259 §8.1): invalid bytes are refused, not replaced. */
function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(body)) as unknown;
  } catch {
    throw new CloisterError('REQUEST_INVALID', 'request body is not valid UTF-8 JSON');
  }
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

/** The client and mesh APIs' style: RFC 9457 problem details (§3.1's members, plus cloister's `code`). */
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

/** Whether the request has a body (RFC 9112 §6.3: announced by Content-Length or Transfer-Encoding) not yet received. */
function unread(req: IncomingMessage): boolean {
  const announced = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  return announced && !req.complete;
}

function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  style: ErrorStyle,
  status: number,
  code: string,
  message: string,
  headers: OutgoingHttpHeaders,
): void {
  if (req.socket.destroyed || res.headersSent) return;
  const { type, text } = style.body(status, code, message);
  res.writeHead(status, {
    ...headers,
    'content-type': type,
    'content-length': Buffer.byteLength(text),
    // A body not read to its end is not read at all: the connection goes with it (RFC 9112 §9.6).
    ...(unread(req) ? { connection: 'close' } : {}),
  });
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
  /** What a 404 adds for a path this server does not serve: where it is served, when another address does. */
  elsewhere: (path: string) => string | undefined = () => undefined,
) {
  const styleOf = typeof style === 'function' ? style : () => style;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    let path = req.url ?? '/';
    try {
      const url = requestUrl(path);
      path = url.pathname;
      const handler = routes[`${method} ${path}`];
      if (!handler) {
        const allowed = Object.keys(routes)
          .filter((route) => route.endsWith(` ${path}`))
          .map((route) => route.slice(0, route.indexOf(' ')));
        if (allowed.length === 0) {
          const hint = elsewhere(path);
          throw new CloisterError('NOT_FOUND', `no such endpoint: ${path}${hint === undefined ? '' : `: ${hint}`}`);
        }
        throw new CloisterError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`, { expected: allowed });
      }
      const body = await readBody(req, maxBody);
      const peer = (req.socket as Partial<TLSSocket>).getPeerCertificate?.();
      const reply = await handler({
        method,
        path,
        query: url.searchParams,
        clientCert: peer && peer.raw ? new Uint8Array(peer.raw) : undefined,
        body,
        json: () => parseJson(body),
      });
      const isJson = 'json' in reply;
      const text = isJson ? JSON.stringify(reply.json) : reply.text;
      res.writeHead(reply.status ?? 200, {
        ...reply.headers,
        'content-type': isJson ? 'application/json' : reply.type,
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    } catch (error) {
      const e = error instanceof CloisterError ? error : undefined;
      const errors = styleOf(path);
      const status = e ? (errors.statuses[e.code] ?? ROUTING_STATUS[e.code]) : undefined;
      log({
        level: status ? 'warn' : 'error',
        method,
        path,
        code: e?.code ?? 'INTERNAL',
        message: error instanceof Error ? error.message : String(error),
      });
      // RFC 9110 §15.5.6: a 405 names the methods the resource has.
      const headers = e?.code === 'METHOD_NOT_ALLOWED' ? { allow: (e.expected as string[]).join(', ') } : {};
      if (e && status) answerError(req, res, errors, status, e.code, e.message, headers);
      else answerError(req, res, errors, 500, 'INTERNAL', 'internal error (logged by the server)', {});
    }
  };
  return (req: IncomingMessage, res: ServerResponse): void =>
    void handle(req, res).catch((error: unknown) => {
      // Only a failure to write the answer lands here; the connection is dropped, the server keeps serving.
      log({ level: 'error', method: req.method, path: req.url, code: 'INTERNAL', message: String(error) });
      res.destroy();
    });
}
