import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { X509Certificate } from '@peculiar/x509';
import { equal } from '../../lib/bytes.js';
import type { CertSubject } from '../../manifest/types.js';
import { der, tlv } from '../../lib/der-writer.js';
import { TAG } from '../../lib/der.js';
import { CloisterError } from '../../lib/errors.js';
import { invalid, keyIdentifier, type SubjectKey } from './keys.js';
import { peculiar } from './peculiar.js';

/**
 * Certificate assembly shared by the CA and leaf issuance: names, profiles, validity, serials,
 * key identifiers and the ECDSA P-256 / SHA-256 signature (RFC 5758 §3.2 ecdsa-with-SHA256).
 */

/** RFC 5280 §4.1.2.5: 99991231235959Z is the last time a certificate can express. */
const MAX_TIME = 253_402_300_799;

/** A CA that signs: its name, P-256 signing key, key identifier and the end of its own validity. */
export interface Signer {
  /** DER of its distinguished name, the issuer of what it signs. */
  readonly name: Uint8Array;
  readonly key: KeyObject;
  /** §4.2.1.1: the AKI extension (DER) of what it signs repeats its own SKI; built once. */
  readonly authorityKeyId: Uint8Array;
  /** Unix seconds; nothing it signs outlives it. */
  readonly notAfter: number;
}

/** A {@link Signer} for a name, imported key, key identifier (hex) and end of validity. @example `signer(name, signingKey(pkcs8), keyId, notAfter)` */
export function signer(name: Uint8Array, key: KeyObject, keyId: string, notAfter: number): Signer {
  // §4.2.1.1: AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }.
  return {
    name,
    key,
    authorityKeyId: extension(OID_AKI, der.sequence(tlv(0x80, Buffer.from(keyId, 'hex')))),
    notAfter,
  };
}

/** What a certificate says about its subject; issuer, serial, SKI and AKI are added by {@link signCertificate}. */
export interface CertificateTemplate {
  /** DER distinguished name. */
  readonly subject: Uint8Array;
  readonly key: SubjectKey;
  /** Unix seconds. */
  readonly notBefore: number;
  /** Unix seconds; clamped to the issuer's notAfter. */
  readonly notAfter: number;
  /** DER Extension elements. */
  readonly extensions: readonly Uint8Array[];
}

/** A PKCS#8 private key for signing. @example `signingKey(ca.rootKey)` */
export function signingKey(pkcs8: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.from(pkcs8.buffer, pkcs8.byteOffset, pkcs8.byteLength),
    format: 'der',
    type: 'pkcs8',
  });
}

/** AlgorithmIdentifier ecdsa-with-SHA256, no parameters (RFC 5758 §3.2). */
const ECDSA_WITH_SHA256 = der.sequence(der.oid('1.2.840.10045.4.3.2'));
const V3 = der.explicit(0, der.integer(2));

/** A positive 128-bit serial, first octet in 0x40..0x7f so it always encodes in 16 octets (RFC 5280 §4.1.2.2: ≤ 20). */
function serialNumber(): Uint8Array {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x3f) | 0x40;
  return b;
}

/**
 * Signs `template` with `issuer`: random serial, subject and authority key identifiers
 * (RFC 5280 §4.2.1.2, §4.2.1.1), validity clamped to the issuer's, ecdsa-with-SHA256. Returns DER.
 *
 * @example
 * ```ts
 * const der = await signCertificate({ subject, key, notBefore, notAfter, extensions }, await caSigner(ca, 'intermediate'));
 * ```
 */
export async function signCertificate(template: CertificateTemplate, issuer: Signer): Promise<Uint8Array> {
  const { notBefore } = template;
  const notAfter = Math.min(template.notAfter, issuer.notAfter);
  if (!(notBefore >= 0 && notAfter <= MAX_TIME))
    throw invalid('now', `validity ${notBefore}..${notAfter} is outside 1970..9999`, notBefore);
  if (notAfter <= notBefore)
    throw invalid('now', `the issuing CA expired at ${new Date(issuer.notAfter * 1000).toISOString()}`, notBefore);
  // RFC 5280 §4.1: the TBSCertificate is assembled directly (the generic generator costs ten
  // times more, and leaf issuance is on the hot path of activation), then signed with node:crypto.
  const tbs = der.sequence(
    V3,
    der.bigUnsigned(serialNumber()),
    ECDSA_WITH_SHA256,
    issuer.name,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    template.subject,
    template.key.spki,
    der.explicit(
      3,
      der.sequence(
        ...template.extensions,
        extension(OID_SKI, der.octets(Buffer.from(template.key.keyId, 'hex'))),
        issuer.authorityKeyId,
      ),
    ),
  );
  return new Uint8Array(der.sequence(tbs, ECDSA_WITH_SHA256, der.bitString(sign('sha256', tbs, issuer.key))));
}

/** Subject attributes as MarbleRun's manifest names them. */
export type SubjectFields = CertSubject;

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
export function subjectName(fields: SubjectFields, field: string): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const [attribute, oid] of SUBJECT_ATTRIBUTES) {
    const value: unknown = fields[attribute];
    const list: readonly unknown[] = value === undefined ? [] : Array.isArray(value) ? value : [value];
    list.forEach((v, i) => {
      const path = Array.isArray(value) ? `${field}.${attribute}[${i}]` : `${field}.${attribute}`;
      if (typeof v !== 'string' || v === '') throw invalid(path, 'must be a non-empty string', v);
      if (attribute === 'Country' && !/^[A-Za-z]{2}$/.test(v))
        throw invalid(path, 'must be a two-letter country code (ISO 3166)', v);
      const text = tlv(attribute === 'Country' ? PRINTABLE_STRING : UTF8_STRING, Buffer.from(v, 'utf8'));
      rdns.push(tlv(TAG.SET, der.sequence(der.oid(oid), text)));
    });
  }
  return der.sequence(...rdns);
}

const PRINTABLE_STRING = 0x13;
const UTF8_STRING = 0x0c;
const OID_SKI = '2.5.29.14';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SAN = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_AKI = '2.5.29.35';
const OID_EXT_KEY_USAGE = '2.5.29.37';
/** §4.2.1.12: id-kp-serverAuth, id-kp-clientAuth. */
const KP = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

/** An Extension element (RFC 5280 §4.1): id, criticality when true, the DER value wrapped in an OCTET STRING. */
function extension(oid: string, value: Uint8Array, critical = false): Uint8Array {
  return der.sequence(der.oid(oid), ...(critical ? [Uint8Array.of(TAG.BOOLEAN, 1, 0xff)] : []), der.octets(value));
}

/**
 * §4.2.1.3 keyUsage, a named BIT STRING (X.690 §11.2.2: trailing zero bits removed, their count in
 * the first octet): digitalSignature (0), keyEncipherment (2), keyCertSign (5), cRLSign (6).
 */
const keyUsage = (bits: number[]): Uint8Array => {
  const byte = bits.reduce((b, bit) => b | (0x80 >> bit), 0);
  const unused = Math.min(...bits.map((bit) => 7 - bit));
  return extension(OID_KEY_USAGE, tlv(TAG.BIT_STRING, Uint8Array.of(unused, byte)), true);
};
/** §4.2.1.9 basicConstraints: cA (DEFAULT FALSE, so omitted for leaves) and pathLenConstraint; critical. */
const basicConstraints = (pathLength?: number): Uint8Array =>
  extension(
    OID_BASIC_CONSTRAINTS,
    pathLength === undefined
      ? der.sequence()
      : der.sequence(Uint8Array.of(TAG.BOOLEAN, 1, 0xff), der.integer(pathLength)),
    true,
  );

// The constant extensions, encoded once: issuance is on the hot path of activation.
const CA_KEY_USAGE = keyUsage([5, 6]);
const LEAF_CONSTRAINTS = basicConstraints();
const LEAF_KEY_USAGE = { signing: keyUsage([0]), withEncipherment: keyUsage([0, 2]) };
/** extKeyUsage by `serverAuth/clientAuth`; neither has no entry. */
const EXTENDED_KEY_USAGES: Partial<Record<string, Uint8Array>> = Object.fromEntries(
  (
    [
      ['true/true', [KP.serverAuth, KP.clientAuth]],
      ['true/false', [KP.serverAuth]],
      ['false/true', [KP.clientAuth]],
    ] as const
  ).map(([key, purposes]) => [key, extension(OID_EXT_KEY_USAGE, der.sequence(...purposes.map((p) => der.oid(p))))]),
);

/** GeneralNames (§4.2.1.6): dNSName [2] IA5String, iPAddress [7] of 4 or 16 octets. */
function subjectAltName(dnsNames: readonly string[], ipAddresses: readonly Uint8Array[]): Uint8Array {
  return extension(
    OID_SAN,
    der.sequence(
      ...dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'latin1'))),
      ...ipAddresses.map((octets) => tlv(0x87, octets)),
    ),
  );
}

/** How a certificate may be used: a CA (with its path length) or a TLS leaf. */
export type Profile =
  | { ca: true; pathLength: number }
  | {
      ca: false;
      key: SubjectKey;
      dnsNames: readonly string[];
      /** iPAddress octets (4 or 16). */
      ipAddresses: readonly Uint8Array[];
      serverAuth: boolean;
      clientAuth: boolean;
    };

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
export function profileExtensions(profile: Profile): Uint8Array[] {
  if (profile.ca) return [basicConstraints(profile.pathLength), CA_KEY_USAGE];
  const purposes = EXTENDED_KEY_USAGES[`${profile.serverAuth}/${profile.clientAuth}`];
  // An empty extKeyUsage is not allowed (SIZE (1..MAX)) and omitting it would allow any purpose.
  if (purposes === undefined) throw invalid('serverAuth', 'a certificate needs serverAuth, clientAuth or both');
  return [
    LEAF_CONSTRAINTS,
    profile.key.kind.keyEncipherment ? LEAF_KEY_USAGE.withEncipherment : LEAF_KEY_USAGE.signing,
    purposes,
    ...(profile.dnsNames.length + profile.ipAddresses.length === 0
      ? []
      : [subjectAltName(profile.dnsNames, profile.ipAddresses)]),
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
  const { BasicConstraintsExtension, SubjectKeyIdentifierExtension, X509Certificate } = await peculiar();
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(certDer);
  } catch (cause) {
    throw new CloisterError('PKI_INVALID', `${field}Cert: is not a DER X.509 certificate`, {
      field: `${field}Cert`,
      cause,
    });
  }
  try {
    key = createPrivateKey({
      key: Buffer.from(pkcs8.buffer, pkcs8.byteOffset, pkcs8.byteLength),
      format: 'der',
      type: 'pkcs8',
    });
  } catch (cause) {
    throw new CloisterError('PKI_INVALID', `${field}Key: is not a DER PKCS#8 private key`, {
      field: `${field}Key`,
      cause,
    });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw invalid(`${field}Key`, 'must be an ECDSA P-256 key');
  const spki = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  if (!equal(spki, new Uint8Array(cert.publicKey.rawData)))
    throw invalid(`${field}Key`, `is not the private key of ${field}Cert`);
  if (cert.getExtension(BasicConstraintsExtension)?.ca !== true)
    throw invalid(`${field}Cert`, 'is not a CA certificate (RFC 5280 §4.2.1.9)');
  const keyId = cert.getExtension(SubjectKeyIdentifierExtension)?.keyId ?? keyIdentifier(spki);
  return signer(new Uint8Array(cert.subjectName.toArrayBuffer()), key, keyId, cert.notAfter.getTime() / 1000);
}
