import { constants, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';

/**
 * JWS in the compact serialization (RFC 7515 §7.1), decoded strictly, with an explicit allow-list
 * of signature algorithms (RFC 7518 §3.1). Nothing here trusts a key the token brings along.
 */

/**
 * The signature algorithms cloister accepts (RFC 7518 §3.1), and what each needs: the node:crypto
 * key types that fit, the hash, and how the signature is laid out. `none` (§3.6) and the HMAC
 * algorithms HS256/384/512 (§3.2) are absent on purpose: an attestation token must be verifiable
 * with a public key alone, and an HMAC "keyed" with a public key is the classic confusion attack.
 *
 * @example
 * ```ts
 * if (!Object.hasOwn(JWS_ALGORITHMS, header.alg)) throw new Error('refused');
 * JWS_ALGORITHMS.PS256.keyTypes; // ['rsa', 'rsa-pss']
 * ```
 */
export const JWS_ALGORITHMS: Readonly<Record<'RS256' | 'PS256' | 'ES256', JwsAlgorithmSpec>> = {
  // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3). Azure Attestation signs with this one.
  RS256: { keyTypes: ['rsa'], hash: 'sha256', padding: constants.RSA_PKCS1_PADDING },
  // RSASSA-PSS with SHA-256, MGF1 with SHA-256, salt as long as the hash (RFC 7518 §3.5).
  PS256: { keyTypes: ['rsa', 'rsa-pss'], hash: 'sha256', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  // ECDSA P-256 with SHA-256; the signature is R ‖ S, 32 bytes each, not DER (RFC 7518 §3.4).
  ES256: { keyTypes: ['ec'], hash: 'sha256', curve: 'prime256v1', signatureBytes: 64 },
};

/**
 * What one algorithm of {@link JWS_ALGORITHMS} needs.
 *
 * @example `const spec: JwsAlgorithmSpec = { keyTypes: ['ec'], hash: 'sha256', curve: 'prime256v1', signatureBytes: 64 }`
 */
export interface JwsAlgorithmSpec {
  /** node:crypto `asymmetricKeyType`s that fit. */
  keyTypes: readonly string[];
  hash: 'sha256';
  /** RSA padding; absent for ECDSA. */
  padding?: number;
  /** PSS salt length, bytes. */
  saltLength?: number;
  /** OpenSSL name of the one curve allowed (ECDSA). */
  curve?: string;
  /** Fixed signature length; RSA signatures are as long as the modulus. */
  signatureBytes?: number;
}

/** A name of {@link JWS_ALGORITHMS}. @example `const alg: JwsAlgorithm = 'ES256'` */
export type JwsAlgorithm = keyof typeof JWS_ALGORITHMS;

/**
 * JOSE header parameters (RFC 7515 §4.1) that make cloister refuse a token, and why. Keys come
 * only from the trusted key set, chosen by `kid`: a token that brings a key of its own is refused
 * rather than half-trusted. Parameters not listed are ignored (§4: "MUST be ignored" when not
 * understood); `x5t` and `x5t#S256` only name a key, so they are harmless.
 */
const REFUSED_HEADER_PARAMETERS: Readonly<Record<string, string>> = {
  crit: 'cloister understands no JOSE extension (RFC 7515 §4.1.11)',
  jwk: 'the token carries its own key (RFC 7515 §4.1.3); keys come only from the trusted key set, by kid',
  x5c: 'the token carries its own certificate (RFC 7515 §4.1.6); keys come only from the trusted key set, by kid',
  x5u: 'the token points at its own certificate (RFC 7515 §4.1.5); keys come only from the trusted key set, by kid',
};

/** Tokens larger than this are refused before anything is decoded (MAA's SGX tokens are ~3 KiB). @example `token.length <= MAX_TOKEN_LENGTH` */
export const MAX_TOKEN_LENGTH = 256 * 1024;

/**
 * A decoded, not yet verified, compact JWS.
 *
 * @example
 * ```ts
 * const jws = decodeJws(token);
 * jws.header.alg; // 'RS256'
 * ```
 */
export interface DecodedJws {
  header: JwsHeader;
  /** The payload octets (RFC 7515 §7.1: BASE64URL(JWS Payload)), parsed only after verification. */
  payload: Uint8Array;
  signature: Uint8Array;
  /** ASCII(BASE64URL(header) ‖ '.' ‖ BASE64URL(payload)), what the signature covers (RFC 7515 §5.2 step 8). */
  signingInput: Uint8Array;
}

/**
 * The header parameters cloister acts on.
 *
 * @example
 * ```ts
 * const h: JwsHeader = { alg: 'RS256', kid: 'abc', jku: 'https://x.attest.azure.net/certs', raw: {} };
 * ```
 */
export interface JwsHeader {
  alg: JwsAlgorithm;
  kid: string | undefined;
  jku: string | undefined;
  /** Every member, as parsed. */
  raw: Readonly<Record<string, unknown>>;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Strict base64url (RFC 7515 §2, RFC 4648 §5): URL-safe alphabet, no padding, no whitespace, and
 * canonical (unused trailing bits zero), so that every byte string has exactly one encoding.
 * `undefined` when malformed.
 *
 * @example `base64url('AQAB')` → `Uint8Array [1, 0, 1]`; `base64url('AQAB=')` → `undefined`
 */
export function base64url(text: string): Uint8Array | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? new Uint8Array(bytes) : undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(field: string, why: string, cause?: unknown): CloisterError {
  return new CloisterError('TOKEN_MALFORMED', `${field}: ${why}`, { field, cause });
}

/**
 * A JSON object from UTF-8 octets (RFC 7515 §5.2 steps 2-4, RFC 7519 §7.2 step 10). JSON.parse
 * keeps the last of duplicate members, which §5.2 allows.
 *
 * @example `jsonObject(payloadBytes, 'payload').iss`
 */
export function jsonObject(bytes: Uint8Array, field: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes)) as unknown;
  } catch (cause) {
    throw malformed(field, 'not UTF-8 JSON', cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(field, 'not a JSON object');
  return value as Record<string, unknown>;
}

function part(text: string, field: string): Uint8Array {
  const bytes = base64url(text);
  if (bytes === undefined)
    throw malformed(field, 'not strict base64url (RFC 7515 §2: URL-safe alphabet, no padding, canonical)');
  return bytes;
}

/** An optional string member of the header. */
function optionalString(raw: Record<string, unknown>, name: string): string | undefined {
  const v = raw[name];
  if (v !== undefined && typeof v !== 'string') throw malformed(`header.${name}`, 'must be a string');
  return v;
}

/**
 * Splits and decodes a compact JWS (RFC 7515 §7.1, §5.2 steps 1-5) and checks its header: `alg`
 * on {@link JWS_ALGORITHMS}, no refused parameter, `typ` absent or JWT (RFC 7519 §5.1). The
 * signature is not checked here: see {@link verifyJwsSignature}.
 *
 * @example
 * ```ts
 * const jws = decodeJws(token);
 * if (!verifyJwsSignature(jws, key)) throw new Error('bad signature');
 * ```
 */
export function decodeJws(token: string): DecodedJws {
  if (typeof token !== 'string') throw malformed('token', 'must be a string');
  if (token.length > MAX_TOKEN_LENGTH) throw malformed('token', `longer than ${MAX_TOKEN_LENGTH} characters`);
  const parts = token.split('.');
  // Exactly three parts; five would be a JWE (RFC 7516 §7.1), which cloister does not accept.
  if (parts.length !== 3) throw malformed('token', `a compact JWS has 3 dot-separated parts, this has ${parts.length}`);
  const [h, p, s] = parts as [string, string, string];
  const raw = jsonObject(part(h, 'header'), 'header');
  const payload = part(p, 'payload');
  const signature = part(s, 'signature');

  const alg = raw['alg'];
  if (typeof alg !== 'string' || !Object.hasOwn(JWS_ALGORITHMS, alg)) {
    throw new CloisterError(
      'TOKEN_ALGORITHM_REFUSED',
      `header.alg: ${JSON.stringify(alg) ?? 'absent'} is not allowed (allowed: ${Object.keys(JWS_ALGORITHMS).join(', ')})`,
      {
        field: 'header.alg',
        expected: Object.keys(JWS_ALGORITHMS),
        actual: alg,
      },
    );
  }
  for (const name of Object.keys(raw)) {
    const why = Object.hasOwn(REFUSED_HEADER_PARAMETERS, name) ? REFUSED_HEADER_PARAMETERS[name] : undefined;
    if (why !== undefined)
      throw new CloisterError('TOKEN_HEADER_REFUSED', `header.${name}: refused: ${why}`, { field: `header.${name}` });
  }
  const typ = optionalString(raw, 'typ');
  // RFC 7519 §5.1: "JWT" (or its media type) when present; the comparison ignores case (RFC 7515 §4.1.9).
  if (typ !== undefined && !['jwt', 'application/jwt'].includes(typ.toLowerCase()))
    throw malformed('header.typ', `"${typ}" is not JWT`);
  return {
    header: { alg: alg as JwsAlgorithm, kid: optionalString(raw, 'kid'), jku: optionalString(raw, 'jku'), raw },
    payload,
    signature,
    signingInput: new Uint8Array(Buffer.from(`${h}.${p}`, 'ascii')),
  };
}

/**
 * Verifies the signature of a decoded JWS with `key` under the header's algorithm (RFC 7515 §5.2
 * step 8; RFC 7518 §3.3-3.5). The key must already have been checked to fit the algorithm.
 * Returns false, never throws, for a wrong or malformed signature.
 *
 * @example
 * ```ts
 * if (!verifyJwsSignature(decodeJws(token), key)) throw new Error('bad signature');
 * ```
 */
export function verifyJwsSignature(jws: DecodedJws, key: KeyObject): boolean {
  const a = JWS_ALGORITHMS[jws.header.alg];
  const modulusBits = key.asymmetricKeyDetails?.modulusLength;
  // RSASSA: the signature is exactly as long as the modulus (RFC 8017 §8.2.2 step 1, §8.1.2 step 1).
  const expectedBytes = a.signatureBytes ?? (modulusBits === undefined ? undefined : Math.ceil(modulusBits / 8));
  if (expectedBytes === undefined || jws.signature.length !== expectedBytes) return false;
  try {
    return verifySignature(
      a.hash,
      jws.signingInput,
      a.padding === undefined
        ? { key, dsaEncoding: 'ieee-p1363' }
        : { key, padding: a.padding, ...(a.saltLength === undefined ? {} : { saltLength: a.saltLength }) },
      jws.signature,
    );
  } catch {
    return false;
  }
}
