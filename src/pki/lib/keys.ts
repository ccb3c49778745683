import { createHash, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { ByteReader } from '../../lib/reader.js';

/**
 * Subject keys: which algorithms a cloister certificate may certify, their validation, generation
 * and key identifiers. Node's crypto (OpenSSL) parses and generates; nothing here reads a clock.
 */

/** A PKI_INVALID error naming `field`. @example `throw invalid('dnsNames[0]', 'is empty')` */
export function invalid(field: string, message: string, actual?: unknown): CloisterError {
  return new CloisterError('PKI_INVALID', `${field}: ${message}`, { field, actual });
}

/** One allowed subject key algorithm. */
export interface KeyKind {
  readonly name: string;
  /** Node's `asymmetricKeyType`. */
  readonly type: 'ec' | 'rsa' | 'ed25519';
  /** Node's `namedCurve` for EC keys. */
  readonly curve?: string;
  /** RFC 5280 §4.2.1.3: RSA keys also transport keys (TLS 1.2 RSA key exchange), so they get keyEncipherment. */
  readonly keyEncipherment: boolean;
}

/** The allow-list of subject keys (STYLE 8): P-256, P-384, RSA ≥ {@link RSA_MIN_BITS} bits, Ed25519. */
export const KEY_KINDS: readonly KeyKind[] = [
  { name: 'P-256', type: 'ec', curve: 'prime256v1', keyEncipherment: false },
  { name: 'P-384', type: 'ec', curve: 'secp384r1', keyEncipherment: false },
  { name: 'RSA', type: 'rsa', keyEncipherment: true },
  { name: 'Ed25519', type: 'ed25519', keyEncipherment: false },
];

/**
 * Certificates of manifest secrets may also hold the curves MarbleRun's `cert-ecdsa` sizes 224 and
 * 521 name (Go's elliptic.P224 and P521); workload identities stay with {@link KEY_KINDS}.
 */
export const SECRET_KEY_KINDS: readonly KeyKind[] = [
  ...KEY_KINDS,
  { name: 'P-224', type: 'ec', curve: 'secp224r1', keyEncipherment: false },
  { name: 'P-521', type: 'ec', curve: 'secp521r1', keyEncipherment: false },
];

/** NIST SP 800-131A: RSA moduli below 2048 bits are disallowed for signatures and key transport. */
export const RSA_MIN_BITS = 2048;

/** A validated subject public key. */
export interface SubjectKey {
  /** The SubjectPublicKeyInfo, DER. */
  readonly spki: Uint8Array;
  readonly kind: KeyKind;
  /** Hex key identifier for the subject/authority key identifier extensions. */
  readonly keyId: string;
}

/**
 * Validates a DER SubjectPublicKeyInfo against {@link KEY_KINDS} (OpenSSL checks the key itself,
 * e.g. that an EC point is on its curve); anything else (not DER, trailing bytes, another
 * algorithm or curve, a short RSA modulus) throws PKI_INVALID naming `field`.
 *
 * @example
 * ```ts
 * const key = subjectKey(request.publicKey, 'publicKey'); // key.kind.name === 'Ed25519'
 * ```
 */
export function subjectKey(spki: Uint8Array, field: string, kinds: readonly KeyKind[] = KEY_KINDS): SubjectKey {
  if (!(spki instanceof Uint8Array)) throw invalid(field, 'must be the DER bytes of a SubjectPublicKeyInfo');
  const bytes = new Uint8Array(spki); // a copy: the caller may reuse its buffer while issuance awaits
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(bytes.buffer), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new CloisterError('PKI_INVALID', `${field}: is not a DER SubjectPublicKeyInfo`, { field, cause });
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const kind = kinds.find((k) => k.type === key.asymmetricKeyType && k.curve === curve);
  const allowed = kinds.map((k) => k.name).join(', ');
  if (kind === undefined)
    throw invalid(
      field,
      `a ${key.asymmetricKeyType ?? 'unknown'}${curve === undefined ? '' : ` ${curve}`} key is not allowed (${allowed})`,
    );
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (kind.type === 'rsa' && bits < RSA_MIN_BITS)
    throw invalid(field, `RSA keys need at least ${RSA_MIN_BITS} bits, got ${bits}`, bits);
  // OpenSSL ignores bytes after the SPKI; the DER walk of keyIdentifier refuses them.
  return { spki: bytes, kind, keyId: keyIdentifier(bytes, field) };
}

const DER_CODES = { truncated: 'PKI_INVALID', trailing: 'PKI_INVALID' } as const;

/** The contents of the next DER TLV, which must carry `tag` (X.690 §8.1: definite lengths only). */
function derValue(r: ByteReader, tag: number, field: string): ByteReader {
  const actual = r.u8(`${field}.tag`);
  if (actual !== tag) throw invalid(field, `has tag 0x${actual.toString(16)}, expected 0x${tag.toString(16)}`);
  const first = r.u8(`${field}.length`);
  let length = first;
  if (first & 0x80) {
    length = 0;
    for (let i = first & 0x7f; i > 0; i--) length = length * 256 + r.u8(`${field}.length`);
  }
  return r.sub(length, field);
}

/**
 * RFC 5280 §4.2.1.2 method (1): the SHA-1 hash of the subjectPublicKey BIT STRING's value
 * (without tag, length and unused-bits octet), as hex. Used as SKI and, for the issuer, as AKI.
 *
 * @example
 * ```ts
 * new SubjectKeyIdentifierExtension(keyIdentifier(spki, 'publicKey'));
 * ```
 */
export function keyIdentifier(spki: Uint8Array, field = 'subjectPublicKeyInfo'): string {
  const r = new ByteReader(spki, DER_CODES);
  const info = derValue(r, 0x30, field);
  r.end(field);
  derValue(info, 0x30, `${field}.algorithm`);
  const bits = derValue(info, 0x03, `${field}.subjectPublicKey`);
  info.end(field);
  bits.u8(`${field}.subjectPublicKey.unusedBits`);
  return createHash('sha1').update(bits.rest()).digest('hex');
}

/** What to generate: an RSA modulus size, an EC curve (WebCrypto name) or Ed25519. */
export type KeySpec =
  { type: 'rsa'; bits: number } | { type: 'ec'; curve: 'P-224' | 'P-256' | 'P-384' | 'P-521' } | { type: 'ed25519' };

/** A generated key pair: SPKI DER public key, PKCS#8 DER private key. */
export interface KeyPairDer {
  readonly spki: Uint8Array;
  readonly pkcs8: Uint8Array;
}

const DER = {
  publicKeyEncoding: { type: 'spki', format: 'der' },
  privateKeyEncoding: { type: 'pkcs8', format: 'der' },
} as const;

/**
 * Generates a key pair off the main thread (Node's libuv pool, so RSA does not block the loop).
 *
 * @example
 * ```ts
 * const { spki, pkcs8 } = await generateKeys({ type: 'ec', curve: 'P-256' });
 * ```
 */
export function generateKeys(spec: KeySpec): Promise<KeyPairDer> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, spki: Buffer, pkcs8: Buffer): void => {
      if (error) reject(error);
      else resolve({ spki: new Uint8Array(spki), pkcs8: new Uint8Array(pkcs8) });
    };
    if (spec.type === 'rsa')
      generateKeyPair('rsa', { modulusLength: spec.bits, publicExponent: 0x10001, ...DER }, done);
    else if (spec.type === 'ec') generateKeyPair('ec', { namedCurve: spec.curve, ...DER }, done);
    else generateKeyPair('ed25519', DER, done);
  });
}
