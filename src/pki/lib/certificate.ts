import 'reflect-metadata'; // @peculiar/x509 needs the Reflect metadata API before it loads.
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
  type Extension,
  type JsonGeneralName,
} from '@peculiar/x509';
import { equal } from '../../lib/bytes.js';
import { CloisterError } from '../../lib/errors.js';
import { invalid, keyIdentifier, type SubjectKey } from './keys.js';

/**
 * Certificate assembly shared by the CA and leaf issuance: names, profiles, validity, serials,
 * key identifiers and the ECDSA P-256 / SHA-256 signature (RFC 5758 §3.2 ecdsa-with-SHA256).
 */

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** RFC 5280 §4.1.2.5: 99991231235959Z is the last time a certificate can express. */
const MAX_TIME = 253_402_300_799;

/** A CA that signs: its name, P-256 signing key, key identifier and the end of its own validity. */
export interface Signer {
  readonly name: Name;
  readonly key: webcrypto.CryptoKey;
  /** §4.2.1.1: the AKI of what it signs repeats its own SKI; built once. */
  readonly authorityKeyId: AuthorityKeyIdentifierExtension;
  /** Unix seconds; nothing it signs outlives it. */
  readonly notAfter: number;
}

/** A {@link Signer} for a name, imported key, key identifier (hex) and end of validity. @example `signer(name, await signingKey(pkcs8), keyId, notAfter)` */
export function signer(name: Name, key: webcrypto.CryptoKey, keyId: string, notAfter: number): Signer {
  return { name, key, authorityKeyId: new AuthorityKeyIdentifierExtension(keyId), notAfter };
}

/** What a certificate says about its subject; issuer, serial, SKI and AKI are added by {@link signCertificate}. */
export interface CertificateTemplate {
  readonly subject: Name;
  readonly key: SubjectKey;
  /** Unix seconds. */
  readonly notBefore: number;
  /** Unix seconds; clamped to the issuer's notAfter. */
  readonly notAfter: number;
  readonly extensions: readonly Extension[];
}

/** Imports a PKCS#8 P-256 private key for WebCrypto signing. @example `await signingKey(ca.rootKey)` */
export function signingKey(pkcs8: Uint8Array): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', pkcs8, ECDSA_P256, false, ['sign']);
}

/** A positive 128-bit serial, first octet in 0x40..0x7f so it always encodes in 16 octets (RFC 5280 §4.1.2.2: ≤ 20). */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x3f) | 0x40;
  return b.toString('hex');
}

/**
 * Signs `template` with `issuer`: random serial, subject and authority key identifiers
 * (RFC 5280 §4.2.1.2, §4.2.1.1), validity clamped to the issuer's, ecdsa-with-SHA256. Returns DER.
 *
 * @example
 * ```ts
 * const der = await signCertificate({ subject, key, notBefore, notAfter, extensions }, await intermediateSigner(ca));
 * ```
 */
export async function signCertificate(template: CertificateTemplate, issuer: Signer): Promise<Uint8Array> {
  const { notBefore } = template;
  const notAfter = Math.min(template.notAfter, issuer.notAfter);
  if (!(notBefore >= 0 && notAfter <= MAX_TIME)) throw invalid('now', `validity ${notBefore}..${notAfter} is outside 1970..9999`, notBefore);
  if (notAfter <= notBefore) throw invalid('now', `the issuing CA expired at ${new Date(issuer.notAfter * 1000).toISOString()}`, notBefore);
  const cert = await X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: template.subject,
      issuer: issuer.name,
      notBefore: new Date(notBefore * 1000),
      notAfter: new Date(notAfter * 1000),
      publicKey: template.key.spki,
      signingKey: issuer.key,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [...template.extensions, new SubjectKeyIdentifierExtension(template.key.keyId), issuer.authorityKeyId],
    },
    webcrypto,
  );
  return new Uint8Array(cert.rawData);
}

/** Subject attributes as MarbleRun's manifest names them. */
export interface SubjectFields {
  CommonName?: string;
  Organization?: string[];
  OrganizationalUnit?: string[];
  Country?: string[];
  Province?: string[];
  Locality?: string[];
}

/**
 * Subject attributes with their X.520 OIDs, in the order Go's crypto/x509 writes them, so a
 * MarbleRun manifest yields the same distinguished name.
 */
const SUBJECT_ATTRIBUTES = [
  ['Country', '2.5.4.6'],
  ['Organization', '2.5.4.10'],
  ['OrganizationalUnit', '2.5.4.11'],
  ['Locality', '2.5.4.7'],
  ['Province', '2.5.4.8'],
  ['CommonName', '2.5.4.3'],
] as const;

/**
 * A distinguished name, one attribute per RDN. RFC 5280 §4.1.2.4 / Appendix A: countryName is a
 * two-letter PrintableString, every other attribute a UTF8String (never re-parsed as DN text, so
 * commas, quotes and backslashes are plain characters).
 *
 * @example
 * ```ts
 * subjectName({ CommonName: 'db', Organization: ['Acme'] }, 'Cert.Subject');
 * ```
 */
export function subjectName(fields: SubjectFields, field: string): Name {
  const rdns: Record<string, { printableString?: string; utf8String?: string }[]>[] = [];
  for (const [attribute, oid] of SUBJECT_ATTRIBUTES) {
    const value: unknown = fields[attribute];
    const list: readonly unknown[] = value === undefined ? [] : Array.isArray(value) ? value : [value];
    list.forEach((v, i) => {
      const path = Array.isArray(value) ? `${field}.${attribute}[${i}]` : `${field}.${attribute}`;
      if (typeof v !== 'string' || v === '') throw invalid(path, 'must be a non-empty string', v);
      if (attribute === 'Country' && !/^[A-Za-z]{2}$/.test(v)) throw invalid(path, 'must be a two-letter country code (ISO 3166)', v);
      rdns.push({ [oid]: [attribute === 'Country' ? { printableString: v } : { utf8String: v }] });
    });
  }
  return new Name(rdns);
}

// The constant extensions, encoded once: issuance is on the hot path of activation.
const CA_KEY_USAGE = new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true);
const LEAF_CONSTRAINTS = new BasicConstraintsExtension(false, undefined, true);
const LEAF_KEY_USAGE = {
  signing: new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
  withEncipherment: new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment, true),
};
/** extKeyUsage by `serverAuth/clientAuth`; neither has no entry. */
const EXTENDED_KEY_USAGES: Partial<Record<string, ExtendedKeyUsageExtension>> = {
  'true/true': new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth], false),
  'true/false': new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth], false),
  'false/true': new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth], false),
};

/** How a certificate may be used: a CA (with its path length) or a TLS leaf. */
export type Profile = { ca: true; pathLength: number } | { ca: false; key: SubjectKey; dnsNames: readonly string[]; ipAddresses: readonly string[]; serverAuth: boolean; clientAuth: boolean };

/**
 * The extensions of a profile. CAs: basicConstraints CA with pathLenConstraint (§4.2.1.9),
 * keyCertSign | cRLSign (§4.2.1.3). Leaves: not a CA, digitalSignature (+ keyEncipherment for
 * RSA), extKeyUsage serverAuth / clientAuth (§4.2.1.12), subjectAltName (§4.2.1.6; not critical:
 * every leaf has a subject CN).
 *
 * @example
 * ```ts
 * profileExtensions({ ca: true, pathLength: 0 });
 * ```
 */
export function profileExtensions(profile: Profile): Extension[] {
  if (profile.ca) return [new BasicConstraintsExtension(true, profile.pathLength, true), CA_KEY_USAGE];
  const purposes = EXTENDED_KEY_USAGES[`${profile.serverAuth}/${profile.clientAuth}`];
  // An empty extKeyUsage is not allowed (SIZE (1..MAX)) and omitting it would allow any purpose.
  if (purposes === undefined) throw invalid('serverAuth', 'a certificate needs serverAuth, clientAuth or both');
  const names: JsonGeneralName[] = [...profile.dnsNames.map((value) => ({ type: 'dns' as const, value })), ...profile.ipAddresses.map((value) => ({ type: 'ip' as const, value }))];
  return [
    LEAF_CONSTRAINTS,
    profile.key.kind.keyEncipherment ? LEAF_KEY_USAGE.withEncipherment : LEAF_KEY_USAGE.signing,
    purposes,
    ...(names.length === 0 ? [] : [new SubjectAlternativeNameExtension(names, false)]),
  ];
}

/**
 * The signer of a CA certificate and its PKCS#8 key, checked: the certificate parses, is a CA,
 * and the key is the P-256 private key of its public key. Anything else throws PKI_INVALID.
 *
 * @example
 * ```ts
 * const intermediate = await loadSigner(ca.intermediateCert, ca.intermediateKey, 'intermediate');
 * ```
 */
export async function loadSigner(certDer: Uint8Array, pkcs8: Uint8Array, field: string): Promise<Signer> {
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(certDer);
  } catch (cause) {
    throw new CloisterError('PKI_INVALID', `${field}Cert: is not a DER X.509 certificate`, { field: `${field}Cert`, cause });
  }
  try {
    key = createPrivateKey({ key: Buffer.from(pkcs8.buffer, pkcs8.byteOffset, pkcs8.byteLength), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new CloisterError('PKI_INVALID', `${field}Key: is not a DER PKCS#8 private key`, { field: `${field}Key`, cause });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw invalid(`${field}Key`, 'must be an ECDSA P-256 key');
  const spki = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  if (!equal(spki, new Uint8Array(cert.publicKey.rawData))) throw invalid(`${field}Key`, `is not the private key of ${field}Cert`);
  if (cert.getExtension(BasicConstraintsExtension)?.ca !== true) throw invalid(`${field}Cert`, 'is not a CA certificate (RFC 5280 §4.2.1.9)');
  const keyId = cert.getExtension(SubjectKeyIdentifierExtension)?.keyId ?? keyIdentifier(spki);
  return signer(cert.subjectName, await signingKey(pkcs8), keyId, cert.notAfter.getTime() / 1000);
}
