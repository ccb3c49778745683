import { CloisterError, type ErrorCode } from '../../lib/errors.js';
import type { Verdict } from '../verdict.js';
import { maaClaims } from './claims.js';
import { JwkSet, parseJwks } from './jwks.js';
import { decodeJws, jsonObject, verifyJwsSignature, type DecodedJws } from './jws.js';

/**
 * Azure Attestation (MAA) tokens: JWTs (RFC 7519) signed by an attestation instance with a key of
 * its `/certs` key set. Verification follows RFC 7519 §7.2 with a fixed algorithm allow-list and
 * a key chosen by `kid` from a trusted set, then maps MAA's claims to cloister's names.
 *
 * Two entry points: {@link verifyMaaTokenSync} is pure and verifies against a key set given
 * offline; {@link verifyMaaToken} also fetches the set from the token's `jku` when none is given,
 * through an injected fetcher and only from allow-listed URLs.
 */

/** The default minimum RSA modulus (NIST SP 800-131A: 2048 bits since 2014). @example `{ minRsaBits: DEFAULT_MIN_RSA_BITS }` */
export const DEFAULT_MIN_RSA_BITS = 2048;

/** RSA moduli below this cannot be allowed even explicitly (the public 2021 MAA sample uses 1024). */
const MIN_RSA_BITS_FLOOR = 1024;

/**
 * What every verification takes: the time and what the token must satisfy.
 *
 * @example
 * ```ts
 * const o: MaaTokenOptions = { now: Date.now() / 1000, issuer: 'https://sharedwus.wus.attest.azure.net' };
 * ```
 */
export interface MaaTokenOptions {
  /** Verification time, Unix seconds. */
  now: number;
  /** When given, `iss` must equal it exactly (RFC 7519 §4.1.1), e.g. `https://sharedwus.wus.attest.azure.net`. */
  issuer?: string | undefined;
  /** Smallest RSA modulus accepted, bits. Default {@link DEFAULT_MIN_RSA_BITS}; at least 1024. */
  minRsaBits?: number | undefined;
  /** Clock skew tolerated on exp, nbf and iat, seconds (RFC 7519 §4.1.4: "some small leeway"). Default 0. */
  leewaySeconds?: number | undefined;
}

/**
 * Options of {@link verifyMaaToken}.
 *
 * @example
 * ```ts
 * const o: MaaVerifyOptions = {
 *   jwks: undefined,
 *   now: Date.now() / 1000,
 *   issuer: 'https://myinstance.eus.attest.azure.net',
 *   trustedJku: ['https://myinstance.eus.attest.azure.net/certs'],
 *   fetchJwks: httpsJwksFetcher(),
 * };
 * ```
 */
export interface MaaVerifyOptions extends MaaTokenOptions {
  /**
   * The trusted key set: JWKS JSON (`{ "keys": [...] }`) or a {@link JwkSet} from {@link parseJwks}.
   * When given, the token's `jku` is not consulted.
   */
  jwks?: unknown;
  /** URLs a token's `jku` may name, compared exactly; https only. Without `jwks`, the key set is fetched from there. */
  trustedJku?: readonly string[] | undefined;
  /** Fetches a key set (parsed JSON); the edge's is `httpsJwksFetcher` in `cloister/collateral`. */
  fetchJwks?: ((url: string) => Promise<unknown>) | undefined;
}

function refuse(code: ErrorCode, field: string, message: string, expected?: unknown, actual?: unknown): never {
  throw new CloisterError(code, `${field}: ${message}`, { field, expected, actual });
}

/** The options, checked once (a bad value is a usage error, not a verdict). */
function settings(o: MaaTokenOptions): { now: number; leeway: number; minRsaBits: number } {
  const minRsaBits = o.minRsaBits ?? DEFAULT_MIN_RSA_BITS;
  const leeway = o.leewaySeconds ?? 0;
  if (!Number.isFinite(o.now)) refuse('USAGE', 'now', 'must be a finite number of Unix seconds');
  if (!Number.isInteger(minRsaBits) || minRsaBits < MIN_RSA_BITS_FLOOR)
    refuse('USAGE', 'minRsaBits', `must be an integer of at least ${MIN_RSA_BITS_FLOOR}`);
  if (!Number.isFinite(leeway) || leeway < 0) refuse('USAGE', 'leewaySeconds', 'must be a non-negative number');
  return { now: o.now, leeway, minRsaBits };
}

/** A NumericDate claim (RFC 7519 §2: seconds since the epoch, a JSON number). */
function numericDate(payload: Record<string, unknown>, name: string, required: boolean): number | undefined {
  const v = payload[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v))
    refuse(
      'TOKEN_MALFORMED',
      `payload.${name}`,
      v === undefined ? 'absent: an attestation token must expire' : 'must be a NumericDate (a number)',
    );
  return v;
}

/** RFC 7519 §7.2 steps 2-10 after decoding: key, signature, then the claims. */
function verifyDecoded(jws: DecodedJws, keys: JwkSet, o: MaaTokenOptions): Verdict {
  const { now, leeway, minRsaBits } = settings(o);
  const key = keys.select(jws.header.kid, jws.header.alg, minRsaBits);
  if (!verifyJwsSignature(jws, key))
    refuse(
      'TOKEN_SIGNATURE_INVALID',
      'signature',
      `does not verify with key "${jws.header.kid}" under ${jws.header.alg}`,
    );
  // Only now is the payload read: it is authentic.
  const payload = jsonObject(jws.payload, 'payload');

  const exp = numericDate(payload, 'exp', true) as number;
  const nbf = numericDate(payload, 'nbf', false);
  const iat = numericDate(payload, 'iat', false);
  // RFC 7519 §4.1.4: the current time MUST be before exp; §4.1.5: on or after nbf.
  if (now >= exp + leeway)
    refuse('TOKEN_EXPIRED', 'payload.exp', `expired at ${iso(exp)}, before ${iso(now)}`, exp, now);
  if (nbf !== undefined && now < nbf - leeway)
    refuse('TOKEN_NOT_YET_VALID', 'payload.nbf', `not valid before ${iso(nbf)}, it is ${iso(now)}`, nbf, now);
  // §4.1.6: iat is when the token was issued; one from the future was not issued by an honest clock.
  if (iat !== undefined && iat > now + leeway)
    refuse('TOKEN_NOT_YET_VALID', 'payload.iat', `issued in the future (${iso(iat)}, it is ${iso(now)})`, iat, now);

  const iss = payload['iss'];
  if (o.issuer !== undefined && iss !== o.issuer)
    refuse(
      'TOKEN_ISSUER_MISMATCH',
      'payload.iss',
      `${JSON.stringify(iss) ?? 'absent'}, expected "${o.issuer}"`,
      o.issuer,
      iss,
    );
  // A set fetched from jku vouches only for its own instance: MAA's jku is `${iss}/certs`.
  if (keys.source !== undefined && (typeof iss !== 'string' || origin(iss) !== origin(keys.source))) {
    refuse(
      'TOKEN_ISSUER_MISMATCH',
      'payload.iss',
      `${JSON.stringify(iss) ?? 'absent'} is not of the origin of the key set ${keys.source}`,
      origin(keys.source),
      iss,
    );
  }

  const { claims, tcbStatus, advisoryIds } = maaClaims(payload);
  return { tee: 'maa', tcbStatus, advisoryIds, claims, collateralExpiry: exp, simulation: false, trailingBytes: 0 };
}

function iso(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}

/** The origin of a URL, or undefined when it is not one. */
function origin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * Verifies an MAA token against a key set given offline, at `now`. Pure and synchronous; throws
 * a {@link CloisterError} naming the failed rule (TOKEN_*, JWKS_INVALID), returns the verdict
 * otherwise: `tee: 'maa'`, claims in cloister's names (`mrenclave`, `mrsigner`, `isvProdId`,
 * `isvSvn`, `debug`, `reportData`, ...), `collateralExpiry` = `exp`.
 *
 * @example
 * ```ts
 * const keys = parseJwks(JSON.parse(readFileSync('jwks.json', 'utf8'))); // once
 * const verdict = verifyMaaTokenSync(token, { jwks: keys, now: Date.now() / 1000, issuer: 'https://sharedwus.wus.attest.azure.net' });
 * checkPolicy(verdict, { expected: { mrenclave: 'b779…' } });
 * ```
 */
export function verifyMaaTokenSync(token: string, options: MaaTokenOptions & { jwks: unknown }): Verdict {
  const keys = options.jwks instanceof JwkSet ? options.jwks : parseJwks(options.jwks);
  return verifyDecoded(decodeJws(token), keys, options);
}

/**
 * The key set a token's `jku` names, fetched only when that URL is https and exactly on
 * `trustedJku`, and, when an issuer is expected, of the issuer's origin (JKU_UNTRUSTED
 * otherwise, before any request). The set remembers its URL: tokens verified with it must have
 * an `iss` of the same origin. Fetch once, verify many with {@link verifyMaaTokenSync}.
 *
 * @example
 * ```ts
 * const keys = await jwksFromJku(token, { trustedJku: ['https://x.eus.attest.azure.net/certs'], fetchJwks: httpsJwksFetcher() });
 * const verdict = verifyMaaTokenSync(token, { jwks: keys, now: Date.now() / 1000 });
 * ```
 */
export async function jwksFromJku(
  token: string,
  options: Pick<MaaVerifyOptions, 'issuer' | 'trustedJku' | 'fetchJwks'>,
): Promise<JwkSet> {
  const { jku } = decodeJws(token).header;
  if (jku === undefined) refuse('TOKEN_KEY_UNKNOWN', 'header.jku', 'absent, and no key set was given');
  const url = origin(jku) === undefined ? undefined : new URL(jku);
  if (url?.protocol !== 'https:') refuse('JKU_UNTRUSTED', 'header.jku', `"${jku}" is not an https URL`);
  // Compared as written: no normalization that could make two different strings "the same" URL.
  if (!(options.trustedJku ?? []).includes(jku))
    refuse(
      'JKU_UNTRUSTED',
      'header.jku',
      `"${jku}" is not on the list of trusted key set URLs`,
      options.trustedJku ?? [],
      jku,
    );
  if (options.issuer !== undefined && origin(options.issuer) !== url.origin)
    refuse(
      'JKU_UNTRUSTED',
      'header.jku',
      `"${jku}" is not of the expected issuer's origin ${origin(options.issuer) ?? options.issuer}`,
      options.issuer,
      jku,
    );
  if (!options.fetchJwks) refuse('TOKEN_KEY_UNKNOWN', 'header.jku', 'no key set was given and no fetcher either');
  let fetched: unknown;
  try {
    fetched = await options.fetchJwks(jku);
  } catch (cause) {
    if (cause instanceof CloisterError) throw cause;
    throw new CloisterError(
      'JWKS_FETCH_FAILED',
      `GET ${jku}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { url: jku, cause },
    );
  }
  return parseJwks(fetched, jku);
}

/**
 * Verifies an MAA token: against `jwks` when given (as {@link verifyMaaTokenSync}), otherwise
 * against the key set fetched from the token's `jku` (as {@link jwksFromJku}: https, exactly on
 * `trustedJku`, of the issuer's origin; the token's `iss` must then be of the same origin).
 *
 * @example
 * ```ts
 * const verdict = await verifyMaaToken(token, {
 *   jwks: undefined,
 *   now: Date.now() / 1000,
 *   issuer: 'https://myinstance.eus.attest.azure.net',
 *   trustedJku: ['https://myinstance.eus.attest.azure.net/certs'],
 *   fetchJwks: httpsJwksFetcher(),
 * });
 * ```
 */
export async function verifyMaaToken(token: string, options: MaaVerifyOptions): Promise<Verdict> {
  settings(options);
  const jwks = options.jwks ?? (await jwksFromJku(token, options));
  return verifyMaaTokenSync(token, { ...options, jwks });
}
