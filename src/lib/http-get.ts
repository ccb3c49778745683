import * as http from 'node:http';
import * as https from 'node:https';
import { CloisterError, type ErrorCode } from './errors.js';

/**
 * The one bounded HTTP(S) GET of cloister's clients (Intel PCS/PCCS, AMD KDS, MAA key sets):
 * 200 is the only success, the body is refused as soon as it is known to exceed the limit
 * (Content-Length, then while streaming), one time limit covers connection, headers and body,
 * redirects are not followed, credentials never appear in messages.
 */

export interface GetOptions {
  headers?: http.OutgoingHttpHeaders;
  timeoutMs: number;
  maxBytes: number;
  /** For https: extra trusted CAs, and whether to check the server certificate (default true). */
  tlsCa?: string | Buffer | Array<string | Buffer> | undefined;
  rejectUnauthorized?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** The codes of a failed exchange (network, TLS, status, time) and of an oversized body. */
  codes: { failed: ErrorCode; tooLarge: ErrorCode };
  /** Details a service puts in the headers of a refusal (request ids, error messages). */
  statusDetails?: ((headers: http.IncomingHttpHeaders) => string) | undefined;
}

export interface GetAnswer {
  /** The URL without credentials, for messages. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * GET `target` within the limits of `o`.
 *
 * @example
 * ```ts
 * const { body } = await boundedGet(new URL(url), { timeoutMs: 10_000, maxBytes: 1 << 20, codes: { failed: 'COLLATERAL_FETCH_FAILED', tooLarge: 'COLLATERAL_RESPONSE_INVALID' } });
 * ```
 */
export function boundedGet(target: URL, o: GetOptions): Promise<GetAnswer> {
  const url = target.href.replace(/^(\w+:\/\/)[^/@]*@/, '$1');
  const tls =
    target.protocol === 'https:'
      ? { rejectUnauthorized: o.rejectUnauthorized ?? true, ...(o.tlsCa === undefined ? {} : { ca: o.tlsCa }) }
      : {};
  return new Promise<GetAnswer>((resolve, reject) => {
    const fail = (code: ErrorCode, why: string, context: { status?: number; cause?: unknown } = {}): void => {
      clearTimeout(timer);
      req.destroy();
      reject(new CloisterError(code, `GET ${url}: ${why}`, { url, ...context }));
    };
    const options = {
      headers: { 'accept-encoding': 'identity', 'user-agent': 'cloister', ...o.headers },
      agent: false,
      ...(o.signal ? { signal: o.signal } : {}),
      ...tls,
    };
    const req = (target.protocol === 'https:' ? https : http).request(target, options, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const details = o.statusDetails?.(res.headers) ?? '';
        return fail(o.codes.failed, `HTTP ${status}${details ? ` (${details})` : ''}`, { status });
      }
      const tooLarge = (): void => fail(o.codes.tooLarge, `body exceeds the limit of ${o.maxBytes} bytes`, { status });
      if (Number(res.headers['content-length'] ?? 0) > o.maxBytes) return tooLarge();
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > o.maxBytes) tooLarge();
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ url, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (cause) => fail(o.codes.failed, cause.message, { status, cause }));
      res.on('close', () => {
        if (!res.complete) fail(o.codes.failed, 'connection closed before the body was complete', { status });
      });
    });
    req.on('error', (cause) => fail(o.codes.failed, cause.message, { cause }));
    const timer = setTimeout(() => fail(o.codes.failed, `no complete answer within ${o.timeoutMs} ms`), o.timeoutMs);
    req.end();
  });
}
