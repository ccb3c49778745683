import { CloisterError } from '../lib/errors.js';
import { boundedGet } from '../lib/http-get.js';

/**
 * The one piece of I/O of MAA token verification, kept out of the pure verifier in `attest/maa`
 * and injected into `verifyMaaToken` / `jwksFromJku` by the edges (CLI, server): GET a key set
 * over https, with a time limit and a size limit, no redirects, no cookies, no credentials.
 */

/**
 * Limits and TLS trust of {@link httpsJwksFetcher}.
 *
 * @example `httpsJwksFetcher({ timeoutMs: 5_000, tlsCa: readFileSync('instance-ca.pem') })`
 */
export interface JwksFetchOptions {
  /** Time limit, connection to last byte. Default 10 000. */
  timeoutMs?: number;
  /** Size limit of the body. Default 256 KiB (MAA's /certs, a few 5 KiB certificates, is ~20 KiB). */
  maxResponseBytes?: number;
  /** Trusted TLS CA(s), PEM, for an instance with a private CA (e.g. a self-hosted cloister). Default: Node's CAs. */
  tlsCa?: string | Buffer | Array<string | Buffer>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A fetcher for `MaaVerifyOptions.fetchJwks` (attest/maa): GET `url` (https only) and parse the JSON
 * body. 200 is the only success; a redirect is a failure (it would leave the allow-list).
 * Network, TLS, status, time and size failures are JWKS_FETCH_FAILED; a body that is not JSON is
 * JWKS_INVALID.
 *
 * @example
 * ```ts
 * const verdict = await verifyMaaToken(token, { jwks: undefined, now, trustedJku: [jku], fetchJwks: httpsJwksFetcher() });
 * ```
 */
export function httpsJwksFetcher(options: JwksFetchOptions = {}): (url: string) => Promise<unknown> {
  return async (url) => {
    const { body } = await boundedGet(httpsUrl(url), {
      headers: { accept: 'application/json' },
      timeoutMs: options.timeoutMs ?? 10_000,
      maxBytes: options.maxResponseBytes ?? 256 * 1024,
      tlsCa: options.tlsCa,
      codes: { failed: 'JWKS_FETCH_FAILED', tooLarge: 'JWKS_FETCH_FAILED' },
    });
    try {
      return JSON.parse(utf8.decode(body)) as unknown;
    } catch (cause) {
      throw new CloisterError('JWKS_INVALID', `GET ${url}: the body is not UTF-8 JSON`, { url, status: 200, cause });
    }
  };
}

/** An https URL without credentials, or JWKS_FETCH_FAILED before any request. */
function httpsUrl(url: string): URL {
  let target: URL | undefined;
  try {
    target = new URL(url);
  } catch {
    target = undefined;
  }
  if (target?.protocol !== 'https:' || target.username !== '' || target.password !== '') {
    throw new CloisterError('JWKS_FETCH_FAILED', `GET ${url}: only https URLs without credentials are fetched`, {
      url,
    });
  }
  return target;
}
