import { createHash, createPublicKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { JsonReader } from '../../lib/json.js';
import { base64url, JWS_ALGORITHMS, type JwsAlgorithm } from './jws.js';

/**
 * JSON Web Key Sets (RFC 7517 §5): the trust anchor of token verification. A key set given as a
 * file, or fetched from an allow-listed `jku`, is trusted as it is; certificates in `x5c` only
 * carry the key (their chains are not validated: the set is what is trusted).
 */

/**
 * JWK key types cloister verifies with (RFC 7518 §6.1), the members that carry the public key,
 * and the node:crypto key types a certificate in `x5c` may hold for them.
 */
const KEY_TYPES: Readonly<Record<string, { members: readonly string[]; keyTypes: readonly string[] }>> = {
  RSA: { members: ['n', 'e'], keyTypes: ['rsa', 'rsa-pss'] }, // §6.3.1
  EC: { members: ['crv', 'x', 'y'], keyTypes: ['ec'] }, // §6.2.1
};

/** EC coordinates are the full size of the curve's field (RFC 7518 §6.2.1.2, §6.2.1.3). */
const CURVE_BYTES: Readonly<Record<string, number>> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

/** Private-key members (RFC 7518 §6.2.2, §6.3.2, §6.4.1): a public key set must not carry them. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** Certificate thumbprints a JWK may state (RFC 7517 §4.8, §4.9), and their hashes. */
const THUMBPRINTS: Readonly<Record<string, string>> = { x5t: 'sha1', 'x5t#S256': 'sha256' };

/** More keys than this in one set is refused (MAA's /certs serves a handful). */
const MAX_KEYS = 100;

/** The most certificates one `x5c` may hold. */
const MAX_X5C = 10;

/**
 * One usable key of a set, with the JWK members that restrict its use.
 *
 * @example
 * ```ts
 * const k: VerificationKey = { kid: 'abc', key: createPublicKey(pem), alg: 'RS256', use: 'sig', keyOps: undefined };
 * ```
 */
export interface VerificationKey {
  kid: string;
  key: KeyObject;
  /** `alg` (RFC 7517 §4.4): when present, the only algorithm the key may be used with. */
  alg: string | undefined;
  /** `use` (RFC 7517 §4.2): when present, must be `sig`. */
  use: string | undefined;
  /** `key_ops` (RFC 7517 §4.3): when present, must include `verify`. */
  keyOps: readonly string[] | undefined;
}

/**
 * A validated key set, parsed once with {@link parseJwks}: keys by `kid`, plus the keys that were
 * left out and why (so that a token naming one gets a precise refusal).
 *
 * @example
 * ```ts
 * const keys = parseJwks(JSON.parse(text));
 * const key = keys.select('15N2MHoj9iAdkF/c5nRE3J2HB8JG6Vue3Uzvu3K/Ses=', 'RS256', 2048);
 * ```
 */
export class JwkSet {
  /** The URL the set was fetched from (a token's `jku`), or undefined for a set given offline. */
  readonly source: string | undefined;
  private readonly keys: ReadonlyMap<string, VerificationKey>;
  private readonly skipped: ReadonlyMap<string, string>;

  constructor(keys: readonly VerificationKey[], skipped: ReadonlyMap<string, string> = new Map(), source?: string) {
    this.keys = new Map(keys.map((k) => [k.kid, k]));
    this.skipped = skipped;
    this.source = source;
  }

  /** The kids of the usable keys. */
  get kids(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * The key named `kid`, checked to fit `alg` (RFC 7518 §3.3-3.5: RSA for RS/PS, EC P-256 for
   * ES256), its JWK restrictions, and for RSA a modulus of at least `minRsaBits`.
   * Throws TOKEN_KEY_UNKNOWN or TOKEN_KEY_REFUSED.
   */
  select(kid: string | undefined, alg: JwsAlgorithm, minRsaBits: number): KeyObject {
    const refuse = (why: string, expected?: unknown, actual?: unknown): never => {
      throw new CloisterError('TOKEN_KEY_REFUSED', `key "${kid}": ${why}`, { field: 'header.kid', expected, actual });
    };
    if (kid === undefined)
      throw new CloisterError(
        'TOKEN_KEY_UNKNOWN',
        'header.kid: absent; the key is chosen from the trusted key set by kid only',
        { field: 'header.kid' },
      );
    const found = this.keys.get(kid);
    if (!found) {
      const why = this.skipped.get(kid);
      if (why !== undefined) refuse(why);
      throw new CloisterError(
        'TOKEN_KEY_UNKNOWN',
        `header.kid: no key "${kid}" in the key set${this.source ? ` of ${this.source}` : ''} (kids: ${this.kids.join(', ') || 'none'})`,
        { field: 'header.kid', actual: kid },
      );
    }
    const { key } = found;
    const fit = JWS_ALGORITHMS[alg];
    const type = key.asymmetricKeyType ?? 'none';
    if (!fit.keyTypes.includes(type)) refuse(`a ${type} key cannot verify ${alg}`, fit.keyTypes, type);
    const details = key.asymmetricKeyDetails ?? {};
    if (fit.curve !== undefined && details.namedCurve !== fit.curve)
      refuse(
        `${alg} needs a P-256 key, this one is on ${details.namedCurve ?? 'an unknown curve'}`,
        fit.curve,
        details.namedCurve,
      );
    const bits = details.modulusLength;
    if (bits !== undefined && bits < minRsaBits)
      refuse(`RSA modulus of ${bits} bits is below the minimum of ${minRsaBits}`, minRsaBits, bits);
    if (found.alg !== undefined && found.alg !== alg)
      refuse(`the key set restricts it to ${found.alg} (RFC 7517 §4.4), the token uses ${alg}`, found.alg, alg);
    if (found.use !== undefined && found.use !== 'sig')
      refuse(`its use is "${found.use}", not "sig" (RFC 7517 §4.2)`, 'sig', found.use);
    if (found.keyOps !== undefined && !found.keyOps.includes('verify'))
      refuse('its key_ops lack "verify" (RFC 7517 §4.3)', 'verify', found.keyOps);
    return key;
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** One JWK of a set: its kid and usable key, or the reason it is left out. */
function parseKey(
  j: JsonReader,
  raw: unknown,
  path: string,
): VerificationKey | { kid: string | undefined; skip: string } {
  const o = j.object(raw, path);
  const kid = j.has(o, 'kid') ? j.string(o, 'kid', path) : undefined;
  const kty = j.string(o, 'kty', path);
  for (const m of PRIVATE_MEMBERS)
    if (j.has(o, m)) throw j.fail(`${path}.${m}`, 'a private key member has no place in a key set');
  const type = Object.hasOwn(KEY_TYPES, kty) ? KEY_TYPES[kty] : undefined;
  // RFC 7517 §5: keys of a type not understood are ignored; so are keys no token can name.
  if (!type)
    return { kid, skip: `key type "${kty}" is not one cloister verifies with (RSA, EC; never a symmetric key)` };
  const use = j.has(o, 'use') ? j.string(o, 'use', path) : undefined;
  const alg = j.has(o, 'alg') ? j.string(o, 'alg', path) : undefined;
  const keyOps = j.has(o, 'key_ops')
    ? j.array(o, 'key_ops', path).map((v, i) => {
        if (typeof v !== 'string') throw j.fail(`${path}.key_ops[${i}]`, 'must be a string');
        return v;
      })
    : undefined;

  const fromMembers = type.members.some((m) => j.has(o, m)) ? memberKey(j, o, kty, type.members, path) : undefined;
  const fromCert = j.has(o, 'x5c') ? certificateKey(j, o, path) : undefined;
  if (fromCert && !type.keyTypes.includes(fromCert.asymmetricKeyType ?? ''))
    throw j.fail(`${path}.x5c[0]`, `holds a ${fromCert.asymmetricKeyType} key, not a ${kty} key`);
  // RFC 7517 §4.7: the key in the first certificate MUST match the other members.
  if (fromMembers && fromCert && !fromMembers.equals(fromCert))
    throw j.fail(`${path}.x5c[0]`, `its public key is not the key of ${type.members.join(', ')}`);
  const key = fromMembers ?? fromCert;
  if (!key) throw j.fail(path, `has neither ${type.members.join(', ')} nor x5c`);
  if (kid === undefined) return { kid, skip: 'no kid' };
  return { kid, key, alg, use, keyOps };
}

/** The public key of the JWK members (RFC 7518 §6.2.1, §6.3.1), each strict base64url. */
function memberKey(
  j: JsonReader,
  o: Record<string, unknown>,
  kty: string,
  members: readonly string[],
  path: string,
): KeyObject {
  const jwk: JsonWebKey = { kty };
  const crv = o['crv'];
  const size =
    kty === 'EC' && typeof crv === 'string' && Object.hasOwn(CURVE_BYTES, crv) ? CURVE_BYTES[crv] : undefined;
  for (const m of members) {
    const text = j.string(o, m, path);
    if (m === 'crv') {
      if (!Object.hasOwn(CURVE_BYTES, text))
        throw j.fail(`${path}.crv`, `curve "${text}" is not supported (${Object.keys(CURVE_BYTES).join(', ')})`);
    } else {
      const bytes = base64url(text);
      if (!bytes || bytes.length === 0) throw j.fail(`${path}.${m}`, 'must be non-empty strict base64url');
      if (size !== undefined && bytes.length !== size)
        throw j.fail(`${path}.${m}`, `must be ${size} bytes for ${String(crv)}, got ${bytes.length}`);
    }
    jwk[m] = text;
  }
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (cause) {
    throw new CloisterError('JWKS_INVALID', `${path}: not a valid ${kty} public key (${(cause as Error).message})`, {
      path,
      cause,
    });
  }
}

/** The public key of the first certificate of `x5c` (RFC 7517 §4.7: base64 DER, not base64url), checked against `x5t` / `x5t#S256` when given. */
function certificateKey(j: JsonReader, o: Record<string, unknown>, path: string): KeyObject {
  const chain = j.array(o, 'x5c', path);
  if (chain.length === 0 || chain.length > MAX_X5C)
    throw j.fail(`${path}.x5c`, `must hold 1 to ${MAX_X5C} certificates`);
  const ders = chain.map((c, i) => {
    if (typeof c !== 'string' || !BASE64.test(c) || c.length === 0)
      throw j.fail(`${path}.x5c[${i}]`, 'must be base64 DER (RFC 7517 §4.7)');
    return Buffer.from(c, 'base64');
  });
  const leaf = ders[0] as Buffer;
  for (const [member, hash] of Object.entries(THUMBPRINTS)) {
    if (j.has(o, member) && j.string(o, member, path) !== createHash(hash).update(leaf).digest('base64url'))
      throw j.fail(`${path}.${member}`, 'is not the thumbprint of x5c[0]');
  }
  try {
    return new X509Certificate(leaf).publicKey;
  } catch (cause) {
    throw new CloisterError(
      'JWKS_INVALID',
      `${path}.x5c[0]: not a DER X.509 certificate (${(cause as Error).message})`,
      { path: `${path}.x5c[0]`, cause },
    );
  }
}

/**
 * Validates a JSON Web Key Set (RFC 7517 §5) and makes its public keys. Keys of a type cloister
 * does not verify with, or without a `kid`, are left out (§5); a set with a private member, a
 * malformed key, two keys of one kid, or no usable key at all is refused with JWKS_INVALID
 * naming the JSON path. `source` is the URL the set came from, when it was fetched.
 *
 * @example
 * ```ts
 * const keys = parseJwks(JSON.parse(readFileSync('jwks.json', 'utf8')));
 * verifyMaaTokenSync(token, { jwks: keys, now: Date.now() / 1000 });
 * ```
 */
export function parseJwks(input: unknown, source?: string): JwkSet {
  const j = new JsonReader('JWKS_INVALID', 'jwks');
  const list = j.array(j.object(input), 'keys');
  if (list.length > MAX_KEYS) throw j.fail('jwks.keys', `more than ${MAX_KEYS} keys`);
  const keys: VerificationKey[] = [];
  const skipped = new Map<string, string>();
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const k = parseKey(j, raw, `jwks.keys[${i}]`);
    if (k.kid === undefined) return;
    if (seen.has(k.kid)) throw j.fail(`jwks.keys[${i}].kid`, `"${k.kid}" names two keys`);
    seen.add(k.kid);
    if ('skip' in k) skipped.set(k.kid, k.skip);
    else keys.push(k);
  });
  if (keys.length === 0) throw j.fail('jwks.keys', 'no usable key (RSA or EC, with a kid)');
  return new JwkSet(keys, skipped, source);
}
