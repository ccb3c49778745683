import { generateKeys, invalid, subjectKey } from './lib/keys.js';
import {
  loadSigner,
  profileExtensions,
  signCertificate,
  signer,
  signingKey,
  subjectName,
  type Signer,
} from './lib/certificate.js';

/**
 * The cloister CA: a self-signed root and the intermediate that signs every workload and secret
 * certificate, both ECDSA P-256. Treated as immutable once used (see {@link intermediateSigner}).
 *
 * @example
 * ```ts
 * const ca: CaBundle = await createCa({ now });
 * const rootPem = pemCert(ca.rootCert); // what clients pin
 * ```
 */
export interface CaBundle {
  /** DER root certificate. */
  rootCert: Uint8Array;
  /** PKCS#8 DER root private key. */
  rootKey: Uint8Array;
  /** DER intermediate certificate, signed by the root. */
  intermediateCert: Uint8Array;
  /** PKCS#8 DER intermediate private key. */
  intermediateKey: Uint8Array;
}

export interface CaOptions {
  /** Creation time, Unix seconds. */
  now: number;
  /** Prefix of the CA names: "<name> Root CA", "<name> Intermediate CA"; `cloister` by default. */
  name?: string;
}

/** Validity starts an hour before `now`, so a verifier whose clock lags a little still accepts. */
export const CLOCK_SKEW = 3600;
const ROOT_YEARS = 10;
const INTERMEDIATE_YEARS = 5;

/** Unix seconds `years` calendar years after `seconds` (UTC). */
function addYears(seconds: number, years: number): number {
  const date = new Date(seconds * 1000);
  date.setUTCFullYear(date.getUTCFullYear() + years);
  return date.getTime() / 1000;
}

/** `now` as whole Unix seconds, or PKI_INVALID. @example `const t = unixTime(request.now)` */
export function unixTime(now: unknown): number {
  if (typeof now !== 'number' || !Number.isFinite(now) || now < 0)
    throw invalid('now', 'must be a time in Unix seconds', now);
  return Math.floor(now);
}

/** Which certificate of a bundle signs: the intermediate (workloads, secrets) or the root (the coordinator's own serving identity). */
export type Issuer = 'intermediate' | 'root';

/** Per bundle and issuer: the parsed, imported signer, valid while the bundle still holds the same byte arrays. */
const signers = new WeakMap<CaBundle, Map<Issuer, CachedSigner>>();
interface CachedSigner {
  cert: Uint8Array;
  key: Uint8Array;
  signer: Promise<Signer>;
}

/**
 * The signer of the bundle's intermediate (or root), parsed and imported once per bundle object
 * (issuance is on the hot path of activation). Replacing a field of the bundle invalidates the
 * entry; a malformed bundle throws PKI_INVALID.
 *
 * @example
 * ```ts
 * const signer = await caSigner(ca, 'intermediate');
 * ```
 */
export function caSigner(ca: CaBundle, issuer: Issuer): Promise<Signer> {
  const [cert, key] = issuer === 'root' ? [ca.rootCert, ca.rootKey] : [ca.intermediateCert, ca.intermediateKey];
  const cached = signers.get(ca) ?? new Map<Issuer, CachedSigner>();
  signers.set(ca, cached);
  const hit = cached.get(issuer);
  if (hit !== undefined && hit.cert === cert && hit.key === key) return hit.signer;
  const signer = loadSigner(cert, key, issuer);
  cached.set(issuer, { cert, key, signer });
  return signer;
}

/**
 * Creates a CA: a self-signed root "<name> Root CA" (10 years, pathLenConstraint 1) and an
 * intermediate "<name> Intermediate CA" (5 years, pathLenConstraint 0), both CAs with
 * keyCertSign | cRLSign (RFC 5280 §4.2.1.9, §4.2.1.3), random 128-bit serials, SKI and AKI, valid
 * from an hour before `now`.
 *
 * @example
 * ```ts
 * const ca = await createCa({ now: Math.floor(Date.now() / 1000), name: 'acme' });
 * const leaf = await issueLeaf(ca, { publicKey, commonName: 'db', now });
 * ```
 */
export async function createCa(options: CaOptions): Promise<CaBundle> {
  const start = unixTime(options.now) - CLOCK_SKEW;
  const name = options.name ?? 'cloister';
  if (typeof name !== 'string' || name.trim() === '') throw invalid('name', 'must be a non-empty string', name);
  const p256 = { type: 'ec', curve: 'P-256' } as const;
  const [rootPair, intermediatePair] = await Promise.all([generateKeys(p256), generateKeys(p256)]);
  const [rootKey, intermediateKey] = [
    subjectKey(rootPair.spki, 'rootKey'),
    subjectKey(intermediatePair.spki, 'intermediateKey'),
  ];
  const [rootName, intermediateName] = [
    subjectName({ CommonName: `${name} Root CA` }, 'name'),
    subjectName({ CommonName: `${name} Intermediate CA` }, 'name'),
  ];
  const [rootSigning, intermediateSigning] = [signingKey(rootPair.pkcs8), signingKey(intermediatePair.pkcs8)];
  const rootEnd = addYears(start, ROOT_YEARS);
  const intermediateEnd = addYears(start, INTERMEDIATE_YEARS);
  const root = signer(rootName, rootSigning, rootKey.keyId, rootEnd);
  const [rootCert, intermediateCert] = await Promise.all([
    signCertificate(
      {
        subject: rootName,
        key: rootKey,
        notBefore: start,
        notAfter: rootEnd,
        extensions: profileExtensions({ ca: true, pathLength: 1 }),
      },
      root,
    ),
    signCertificate(
      {
        subject: intermediateName,
        key: intermediateKey,
        notBefore: start,
        notAfter: intermediateEnd,
        extensions: profileExtensions({ ca: true, pathLength: 0 }),
      },
      root,
    ),
  ]);
  const bundle: CaBundle = {
    rootCert,
    rootKey: rootPair.pkcs8,
    intermediateCert,
    intermediateKey: intermediatePair.pkcs8,
  };
  // Prime the cache: the first issuance need not parse what was just built.
  const intermediate = signer(intermediateName, intermediateSigning, intermediateKey.keyId, intermediateEnd);
  signers.set(
    bundle,
    new Map([
      ['intermediate', { cert: intermediateCert, key: intermediatePair.pkcs8, signer: Promise.resolve(intermediate) }],
      ['root', { cert: rootCert, key: rootPair.pkcs8, signer: Promise.resolve(root) }],
    ]),
  );
  return bundle;
}
