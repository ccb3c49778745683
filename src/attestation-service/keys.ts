import { createHash, createPrivateKey, KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import type { CaBundle } from '../pki/index.js';
import { peculiar } from '../pki/lib/peculiar.js';

/**
 * The token-signing keys of the attestation service and its sealed state. Each key is RSA 2048
 * (RS256, RFC 7518 §3.3) with a self-signed certificate whose subject is the instance URL, as
 * MAA's `/certs` serves them (RFC 7517 §4.7 `x5c`). The newest key signs; a rotated-out key stays
 * published until the last token it signed has expired.
 */

/**
 * One signing key.
 *
 * @example `{ kid: 'q2Zk…=', privateKey, cert, createdAt: 1700000000, retiredAt: undefined }`
 */
export interface SigningKey {
  /** base64(SHA-256(certificate DER)), the form of MAA's kids. */
  kid: string;
  privateKey: KeyObject;
  /** DER of the self-signed certificate. */
  cert: Uint8Array;
  createdAt: number;
  /** When a newer key replaced it (Unix seconds). */
  retiredAt: number | undefined;
}

/**
 * The service's durable state, kept in a sealed store: the TLS CA of its HTTPS endpoint and its
 * signing keys, oldest first.
 *
 * @example `const state: ServiceState = { version: 1, tls: await createCa({ now }), keys: [await createSigningKey(instance, now)] }`
 */
export interface ServiceState {
  version: 1;
  tls: CaBundle;
  keys: SigningKey[];
}

const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;
const YEAR = 365 * 86_400;

/**
 * A new RSA 2048 signing key and its self-signed certificate (CN = the instance URL, valid from an
 * hour before `now` for ten years).
 *
 * @example `const key = await createSigningKey('https://attest.example:8443', Date.now() / 1000)`
 */
export async function createSigningKey(instance: string, now: number): Promise<SigningKey> {
  const { X509CertificateGenerator } = await peculiar();
  const keys = await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']);
  const start = Math.floor(now) - 3600;
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40;
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: [{ CN: [instance] }],
      notBefore: new Date(start * 1000),
      notAfter: new Date((start + 10 * YEAR) * 1000),
      keys,
      signingAlgorithm: RSA,
    },
    webcrypto,
  );
  const der = new Uint8Array(cert.rawData);
  return {
    kid: kidOf(der),
    privateKey: KeyObject.from(keys.privateKey),
    cert: der,
    createdAt: Math.floor(now),
    retiredAt: undefined,
  };
}

const kidOf = (cert: Uint8Array): string => createHash('sha256').update(cert).digest('base64');

/**
 * The keys after a rotation at `now`: the current key retired, `next` added, and keys retired
 * longer than `tokenLifetime` ago dropped (no unexpired token can name them).
 *
 * @example `state.keys = rotateKeys(state.keys, await createSigningKey(instance, now), now, 8 * 3600)`
 */
export function rotateKeys(
  keys: readonly SigningKey[],
  next: SigningKey,
  now: number,
  tokenLifetime: number,
): SigningKey[] {
  const kept = keys.filter((k) => k.retiredAt === undefined || k.retiredAt + tokenLifetime > now);
  return [...kept.map((k) => (k.retiredAt === undefined ? { ...k, retiredAt: Math.floor(now) } : k)), next];
}

/**
 * The JSON Web Key Set of `/certs` (RFC 7517 §5): per key `kid`, `kty`, `use`, `alg`, `n`, `e`
 * and `x5c` (base64 DER, not base64url, §4.7), newest first.
 *
 * @example `jwks(state.keys).keys[0].kid`
 */
export function jwks(keys: readonly SigningKey[]): { keys: Record<string, unknown>[] } {
  return {
    keys: [...keys].reverse().map((k) => {
      const { n, e } = new X509Certificate(k.cert).publicKey.export({ format: 'jwk' });
      return { kid: k.kid, kty: 'RSA', use: 'sig', alg: 'RS256', n, e, x5c: [Buffer.from(k.cert).toString('base64')] };
    }),
  };
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** The state as bytes for the sealed store (byte strings base64, private keys PKCS#8). */
export function encodeServiceState(s: ServiceState): Uint8Array {
  const doc = {
    version: s.version,
    tls: {
      rootCert: b64(s.tls.rootCert),
      rootKey: b64(s.tls.rootKey),
      intermediateCert: b64(s.tls.intermediateCert),
      intermediateKey: b64(s.tls.intermediateKey),
    },
    keys: s.keys.map((k) => ({
      privateKey: b64(k.privateKey.export({ format: 'der', type: 'pkcs8' })),
      cert: b64(k.cert),
      createdAt: k.createdAt,
      ...(k.retiredAt === undefined ? {} : { retiredAt: k.retiredAt }),
    })),
  };
  return new Uint8Array(Buffer.from(JSON.stringify(doc), 'utf8'));
}

/** Parses state bytes; anything unexpected is STATE_CORRUPT naming the JSON path. */
export function decodeServiceState(data: Uint8Array): ServiceState {
  const j = new JsonReader('STATE_CORRUPT', 'state');
  const o = j.object(j.parse(Buffer.from(data).toString('utf8')));
  if (o['version'] !== 1)
    throw new CloisterError(
      'STATE_CORRUPT',
      `state.version: ${String(o['version'])} is not a version this service understands`,
      { path: 'state.version' },
    );
  const t = j.object(o['tls'], 'state.tls');
  const bytes = (x: Record<string, unknown>, key: string, path: string) => j.base64(x, key, path);
  const keys = j.array(o, 'keys').map((raw, i): SigningKey => {
    const p = `state.keys[${i}]`;
    const k = j.object(raw, p);
    const cert = bytes(k, 'cert', p);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: Buffer.from(bytes(k, 'privateKey', p)), format: 'der', type: 'pkcs8' });
    } catch (cause) {
      throw new CloisterError('STATE_CORRUPT', `${p}.privateKey: not a PKCS#8 private key`, {
        path: `${p}.privateKey`,
        cause,
      });
    }
    return {
      kid: kidOf(cert),
      privateKey,
      cert,
      createdAt: j.int(k, 'createdAt', p),
      retiredAt: j.has(k, 'retiredAt') ? j.int(k, 'retiredAt', p) : undefined,
    };
  });
  if (keys.length === 0 || keys[keys.length - 1]?.retiredAt !== undefined)
    throw new CloisterError('STATE_CORRUPT', 'state.keys: the newest key must be current', { path: 'state.keys' });
  const tls = {
    rootCert: bytes(t, 'rootCert', 'state.tls'),
    rootKey: bytes(t, 'rootKey', 'state.tls'),
    intermediateCert: bytes(t, 'intermediateCert', 'state.tls'),
    intermediateKey: bytes(t, 'intermediateKey', 'state.tls'),
  };
  return { version: 1, tls, keys };
}
