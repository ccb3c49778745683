import { constants, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import {
  Der,
  TAG,
  bitStringBytes,
  inner,
  integerHex,
  malformed,
  oidText,
  smallUint,
  timeSeconds,
  type Tlv,
} from '../../lib/der.js';

/**
 * X.509 certificates and CRLs (RFC 5280), parsed with cloister's DER walker so that arbitrary
 * bytes only ever produce a typed error, and verified with node:crypto.
 */

/**
 * How a certificate or CRL signature is checked: the digest, the key type it needs, and for
 * RSASSA-PSS the parameters (RFC 4055 §3.1) that must be given exactly.
 *
 * @example `parseCertificate(vcekDer).hash` → `{ name: 'RSASSA-PSS-SHA384', hash: 'sha384', key: 'rsa', pss: { … saltLength: 48 } }`
 */
export interface SignatureAlgorithm {
  name: string;
  hash: 'sha256' | 'sha384';
  key: 'ec' | 'rsa';
  pss?: { hashOid: string; mgfOid: string; mgfHashOid: string; saltLength: number };
}

/**
 * Signature algorithms accepted anywhere in cloister: ECDSA (RFC 5758 §3.2) for Intel's PKI,
 * RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt (RFC 4055 §3.1) for AMD's ARK, ASK and
 * VCEK certificates and CRLs (AMD VCEK Certificate and KDS Interface Specification §2).
 */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithm>> = {
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', hash: 'sha256', key: 'ec' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', hash: 'sha384', key: 'ec' },
  '1.2.840.113549.1.1.10': {
    name: 'RSASSA-PSS-SHA384',
    hash: 'sha384',
    key: 'rsa',
    pss: {
      hashOid: '2.16.840.1.101.3.4.2.2',
      mgfOid: '1.2.840.113549.1.1.8',
      mgfHashOid: '2.16.840.1.101.3.4.2.2',
      saltLength: 48,
    },
  },
};

export const OID = {
  commonName: '2.5.4.3',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31',
  cRLNumber: '2.5.29.20',
  sgxExtensions: '1.2.840.113741.1.13.1',
} as const;

/** Extensions cloister understands, so may be critical (RFC 5280 §4.2: unknown critical ones fail). */
const UNDERSTOOD = new Set<string>([
  OID.keyUsage,
  OID.basicConstraints,
  OID.subjectKeyId,
  OID.authorityKeyId,
  OID.crlDistributionPoints,
  OID.cRLNumber,
  OID.sgxExtensions,
]);

export const KEY_USAGE = { digitalSignature: 0, nonRepudiation: 1, keyCertSign: 5, cRLSign: 6 } as const;

export interface Extension {
  critical: boolean;
  value: Uint8Array;
  offset: number;
}

export interface Certificate {
  der: Uint8Array;
  tbs: Uint8Array;
  /** The signature algorithm (its digest and, for RSASSA-PSS, its parameters), for {@link signedBy}. */
  hash: SignatureAlgorithm;
  signature: Uint8Array;
  serial: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  subjectCn: string;
  notBefore: number;
  notAfter: number;
  spki: Uint8Array;
  extensions: ReadonlyMap<string, Extension>;
  /** `cA` of basicConstraints (false when absent). */
  ca: boolean;
  pathLen: number | undefined;
  /** Key usage bits set, or undefined when the extension is absent. */
  keyUsage: ReadonlySet<number> | undefined;
  /** The public key, created on first use. */
  key(): KeyObject;
}

function algorithm(d: Der, field: string): SignatureAlgorithm {
  const alg = d.enter(TAG.SEQUENCE, field);
  const oid = oidText(alg.expect(TAG.OID, `${field}.algorithm`).value);
  const known = SIGNATURE_ALGORITHMS[oid];
  if (known?.pss) pssParameters(alg.enter(TAG.SEQUENCE, `${field}.parameters`), known.pss, field);
  // ECDSA AlgorithmIdentifiers carry no parameters (RFC 5758 §3.2).
  else if (!alg.done) alg.expect(TAG.NULL, `${field}.parameters`);
  alg.end(field);
  if (!known)
    throw new CloisterError('CERT_CHAIN_INVALID', `${field}: signature algorithm ${oid} is not allowed`, {
      field,
      actual: oid,
    });
  return known;
}

/** A hash AlgorithmIdentifier: the OID, with absent or NULL parameters (RFC 4055 §2.1). */
function hashOid(d: Der, field: string): string {
  const alg = d.enter(TAG.SEQUENCE, field);
  const oid = oidText(alg.expect(TAG.OID, `${field}.algorithm`).value);
  if (!alg.done) alg.expect(TAG.NULL, `${field}.parameters`);
  alg.end(field);
  return oid;
}

/** The one element inside an EXPLICIT context tag, read by `read`; `undefined` when the tag is absent. */
function explicit<T>(p: Der, tag: number, field: string, read: (d: Der) => T): T | undefined {
  const tlv = p.optional(tag, field);
  if (!tlv) return undefined;
  const d = inner(tlv);
  const value = read(d);
  d.end(field);
  return value;
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1): hashAlgorithm [0], maskGenAlgorithm [1], saltLength [2],
 * trailerField [3], each defaulting to the SHA-1 values. AMD's certificates spell out the default
 * trailerField 1 in some issues and omit it in others; both are read. Any other parameters are
 * refused.
 */
function pssParameters(p: Der, want: NonNullable<SignatureAlgorithm['pss']>, field: string): void {
  const integer = (name: string) => (d: Der) =>
    smallUint(d.expect(TAG.INTEGER, `${field}.${name}`), `${field}.${name}`);
  const hash = explicit(p, 0xa0, `${field}.hashAlgorithm`, (d) => hashOid(d, `${field}.hashAlgorithm`)) ?? 'sha1';
  const mgf =
    explicit(p, 0xa1, `${field}.maskGenAlgorithm`, (d) => {
      const seq = d.enter(TAG.SEQUENCE, `${field}.maskGenAlgorithm`);
      const oid = oidText(seq.expect(TAG.OID, `${field}.maskGenAlgorithm.algorithm`).value);
      const mgfHash = hashOid(seq, `${field}.maskGenAlgorithm.parameters`);
      seq.end(`${field}.maskGenAlgorithm`);
      return `${oid}/${mgfHash}`;
    }) ?? 'mgf1/sha1';
  const salt = explicit(p, 0xa2, `${field}.saltLength`, integer('saltLength')) ?? 20;
  const trailer = explicit(p, 0xa3, `${field}.trailerField`, integer('trailerField')) ?? 1;
  p.end(`${field}.parameters`);
  const got = { hash, mgf, salt, trailer };
  const allowed = { hash: want.hashOid, mgf: `${want.mgfOid}/${want.mgfHashOid}`, salt: want.saltLength, trailer: 1 };
  for (const key of Object.keys(allowed) as (keyof typeof allowed)[]) {
    if (got[key] !== allowed[key])
      throw new CloisterError('CERT_CHAIN_INVALID', `${field}: RSASSA-PSS ${key} ${got[key]} is not allowed`, {
        field,
        expected: allowed[key],
        actual: got[key],
      });
  }
}

function commonName(name: Tlv): string {
  const rdns = inner(name);
  let cn = '';
  while (!rdns.done) {
    const set = rdns.enter(TAG.SET, 'name.rdn');
    while (!set.done) {
      const atv = set.enter(TAG.SEQUENCE, 'name.attribute');
      const type = oidText(atv.expect(TAG.OID, 'name.attribute.type').value);
      const value = atv.next('name.attribute.value');
      atv.end('name.attribute');
      if (type === OID.commonName) cn = Buffer.from(value.value).toString('utf8');
    }
  }
  return cn;
}

function extensions(tlv: Tlv | undefined): Map<string, Extension> {
  const out = new Map<string, Extension>();
  if (!tlv) return out;
  const wrapper = inner(tlv);
  const list = wrapper.enter(TAG.SEQUENCE, 'extensions');
  wrapper.end('extensions');
  while (!list.done) {
    const ext = list.enter(TAG.SEQUENCE, 'extension');
    const oid = oidText(ext.expect(TAG.OID, 'extension.id').value);
    const crit = ext.optional(TAG.BOOLEAN, 'extension.critical');
    if (crit) boolean(crit, 'extension.critical');
    const value = ext.expect(TAG.OCTET_STRING, 'extension.value');
    ext.end('extension');
    if (out.has(oid)) throw malformed(`extension ${oid}`, value.offset, 'duplicate extension');
    out.set(oid, { critical: crit !== undefined && crit.value[0] !== 0, value: value.value, offset: value.offset });
  }
  return out;
}

/** X.690 §11.1: a DER BOOLEAN is one octet, 0x00 or 0xFF. */
function boolean(tlv: Tlv, field: string): void {
  if (tlv.value.length !== 1 || (tlv.value[0] !== 0 && tlv.value[0] !== 0xff))
    throw malformed(field, tlv.offset, 'not a DER BOOLEAN');
}

function basicConstraints(ext: Extension | undefined): { ca: boolean; pathLen: number | undefined } {
  if (!ext) return { ca: false, pathLen: undefined };
  const d = Der.of(ext.value, ext.offset).enter(TAG.SEQUENCE, 'basicConstraints');
  const ca = d.optional(TAG.BOOLEAN, 'basicConstraints.cA');
  if (ca) boolean(ca, 'basicConstraints.cA');
  const len = d.optional(TAG.INTEGER, 'basicConstraints.pathLenConstraint');
  d.end('basicConstraints');
  return {
    ca: ca !== undefined && ca.value[0] !== 0,
    pathLen: len && smallUint(len, 'basicConstraints.pathLenConstraint'),
  };
}

function keyUsage(ext: Extension | undefined): Set<number> | undefined {
  if (!ext) return undefined;
  const tlv = Der.of(ext.value, ext.offset).expect(TAG.BIT_STRING, 'keyUsage');
  if (tlv.value.length === 0) throw malformed('keyUsage', tlv.offset, 'empty BIT STRING');
  const bits = new Set<number>();
  for (let i = 1; i < tlv.value.length; i++)
    for (let b = 0; b < 8; b++) if (((tlv.value[i] as number) >> (7 - b)) & 1) bits.add((i - 1) * 8 + b);
  return bits;
}

/**
 * Parses one DER certificate (RFC 5280 §4.1).
 *
 * @example
 * ```ts
 * const cert = parseCertificate(der);
 * console.log(cert.subjectCn, new Date(cert.notAfter * 1000));
 * ```
 */
export function parseCertificate(der: Uint8Array): Certificate {
  const top = Der.of(der);
  const certSeq = top.enter(TAG.SEQUENCE, 'certificate');
  top.end('certificate');
  const tbsTlv = certSeq.expect(TAG.SEQUENCE, 'tbsCertificate');
  const sigAlg = algorithm(certSeq, 'signatureAlgorithm');
  const signature = bitStringBytes(certSeq.expect(TAG.BIT_STRING, 'signatureValue'), 'signatureValue');
  certSeq.end('certificate');

  const tbs = inner(tbsTlv);
  const version = tbs.optional(0xa0, 'version');
  const versionValue = version && inner(version);
  if (!versionValue || smallUint(versionValue.expect(TAG.INTEGER, 'version'), 'version') !== 2) {
    throw malformed('version', tbsTlv.offset, 'only X.509 v3 certificates are accepted');
  }
  versionValue.end('version');
  const serial = integerHex(tbs.expect(TAG.INTEGER, 'serialNumber'), 'serialNumber');
  const innerAlg = algorithm(tbs, 'signature');
  if (innerAlg !== sigAlg)
    throw malformed('signature', tbsTlv.offset, 'tbsCertificate.signature differs from signatureAlgorithm');
  const issuer = tbs.expect(TAG.SEQUENCE, 'issuer');
  const validity = tbs.enter(TAG.SEQUENCE, 'validity');
  const notBefore = timeSeconds(validity.next('validity.notBefore'), 'validity.notBefore');
  const notAfter = timeSeconds(validity.next('validity.notAfter'), 'validity.notAfter');
  validity.end('validity');
  const subject = tbs.expect(TAG.SEQUENCE, 'subject');
  const spki = tbs.expect(TAG.SEQUENCE, 'subjectPublicKeyInfo');
  tbs.optional(0x81, 'issuerUniqueID');
  tbs.optional(0x82, 'subjectUniqueID');
  const exts = extensions(tbs.optional(0xa3, 'extensions'));
  tbs.end('tbsCertificate');

  for (const [oid, ext] of exts) {
    if (ext.critical && !UNDERSTOOD.has(oid))
      throw new CloisterError('CERT_CHAIN_INVALID', `unknown critical extension ${oid}`, {
        field: 'extensions',
        actual: oid,
      });
  }
  const bc = basicConstraints(exts.get(OID.basicConstraints));
  let key: KeyObject | undefined;
  return {
    der,
    tbs: tbsTlv.raw,
    hash: sigAlg,
    signature,
    serial,
    issuer: issuer.raw,
    subject: subject.raw,
    subjectCn: commonName(subject),
    notBefore,
    notAfter,
    spki: spki.raw,
    extensions: exts,
    ca: bc.ca,
    pathLen: bc.pathLen,
    keyUsage: keyUsage(exts.get(OID.keyUsage)),
    key() {
      if (!key) {
        try {
          key = createPublicKey({ key: Buffer.from(spki.raw), format: 'der', type: 'spki' });
        } catch (cause) {
          throw new CloisterError('CERT_CHAIN_INVALID', `certificate "${this.subjectCn}": unusable public key`, {
            field: 'subjectPublicKeyInfo',
            cause,
          });
        }
      }
      return key;
    },
  };
}

/**
 * Verifies a certificate or CRL signature over `data` (DER ECDSA, or RSASSA-PSS with the
 * algorithm's salt length); false (never a throw) for a wrong or malformed signature, or a key of
 * another type than the algorithm needs.
 *
 * @example
 * ```ts
 * if (!signedBy(cert.tbs, cert.signature, cert.hash, issuer.key())) throw new Error('not signed by issuer');
 * ```
 */
export function signedBy(
  data: Uint8Array,
  signature: Uint8Array,
  algorithm: SignatureAlgorithm,
  key: KeyObject,
): boolean {
  try {
    const type = key.asymmetricKeyType;
    if (algorithm.key === 'ec' ? type !== 'ec' : type !== 'rsa' && type !== 'rsa-pss') return false;
    const pss = algorithm.pss;
    return verifySignature(
      algorithm.hash,
      data,
      pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength } : key,
      signature,
    );
  } catch {
    return false;
  }
}

export interface Crl {
  der: Uint8Array;
  tbs: Uint8Array;
  /** The signature algorithm, for {@link signedBy}. */
  hash: SignatureAlgorithm;
  signature: Uint8Array;
  issuer: Uint8Array;
  thisUpdate: number;
  nextUpdate: number;
  /** Revoked serial numbers, canonical lowercase hex. */
  revoked: ReadonlySet<string>;
}

/**
 * Parses a DER CRL (RFC 5280 §5.1). A CRL without nextUpdate is refused: Intel's always carry one
 * and a CRL that never expires cannot be judged stale.
 *
 * @example
 * ```ts
 * const crl = parseCrl(der);
 * if (crl.revoked.has(cert.serial)) throw new Error('revoked');
 * ```
 */
export function parseCrl(der: Uint8Array): Crl {
  try {
    const top = Der.of(der);
    const list = top.enter(TAG.SEQUENCE, 'certificateList');
    top.end('certificateList');
    const tbsTlv = list.expect(TAG.SEQUENCE, 'tbsCertList');
    const sigAlg = algorithm(list, 'signatureAlgorithm');
    const signature = bitStringBytes(list.expect(TAG.BIT_STRING, 'signatureValue'), 'signatureValue');
    list.end('certificateList');
    const tbs = inner(tbsTlv);
    const version = tbs.optional(TAG.INTEGER, 'version');
    if (version && smallUint(version, 'version') !== 1)
      throw malformed('version', version.offset, 'only v2 CRLs are accepted');
    if (algorithm(tbs, 'signature') !== sigAlg)
      throw malformed('signature', tbsTlv.offset, 'tbsCertList.signature differs from signatureAlgorithm');
    const issuer = tbs.expect(TAG.SEQUENCE, 'issuer');
    const thisUpdate = timeSeconds(tbs.next('thisUpdate'), 'thisUpdate');
    const tag = tbs.peekTag();
    if (tag !== TAG.UTC_TIME && tag !== TAG.GENERALIZED_TIME)
      throw malformed('nextUpdate', tbsTlv.offset, 'CRL has no nextUpdate');
    const nextUpdate = timeSeconds(tbs.next('nextUpdate'), 'nextUpdate');
    const revoked = new Set<string>();
    const entries = tbs.optional(TAG.SEQUENCE, 'revokedCertificates');
    if (entries) {
      const d = inner(entries);
      while (!d.done) {
        const entry = d.enter(TAG.SEQUENCE, 'revokedCertificate');
        revoked.add(integerHex(entry.expect(TAG.INTEGER, 'userCertificate'), 'userCertificate'));
        timeSeconds(entry.next('revocationDate'), 'revocationDate');
        entry.optional(TAG.SEQUENCE, 'crlEntryExtensions');
        entry.end('revokedCertificate');
      }
    }
    const exts = extensions(tbs.optional(0xa0, 'crlExtensions'));
    tbs.end('tbsCertList');
    for (const [oid, ext] of exts) {
      if (ext.critical && !UNDERSTOOD.has(oid))
        throw malformed('crlExtensions', ext.offset, `unknown critical extension ${oid}`);
    }
    return { der, tbs: tbsTlv.raw, hash: sigAlg, signature, issuer: issuer.raw, thisUpdate, nextUpdate, revoked };
  } catch (cause) {
    // Anything unparsable in a CRL fails closed with one code.
    if (cause instanceof CloisterError && cause.code === 'CRL_INVALID') throw cause;
    throw new CloisterError(
      'CRL_INVALID',
      `CRL is malformed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

// RFC 7468 §3: only SP, HTAB, CR, LF, VT and FF are whitespace (not JavaScript's Unicode \s).
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/= \t\r\n\v\f]*?)-----END \1-----/g;
const PEM_GAP = /^[ \t\r\n\v\f\0]*$/;

/**
 * The DER contents of every `CERTIFICATE` block of a PEM text. Only whitespace (and the NUL
 * terminators some quoting libraries append) may surround the blocks.
 *
 * @example
 * ```ts
 * const [leaf, ...rest] = pemCertificates(chainText).map(parseCertificate);
 * ```
 */
export function pemCertificates(text: string, field = 'pem'): Uint8Array[] {
  const out: Uint8Array[] = [];
  let last = 0;
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (!PEM_GAP.test(text.slice(last, m.index))) break;
    if (m[1] !== 'CERTIFICATE')
      throw new CloisterError('PEM_MALFORMED', `${field}: unexpected PEM block "${m[1]}"`, { field });
    const body = (m[2] as string).replace(/[ \t\r\n\v\f]+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0)
      throw new CloisterError('PEM_MALFORMED', `${field}: invalid base64`, { field });
    out.push(new Uint8Array(Buffer.from(body, 'base64')));
    last = m.index + m[0].length;
  }
  if (out.length === 0 || !PEM_GAP.test(text.slice(last))) {
    throw new CloisterError('PEM_MALFORMED', `${field}: expected only PEM CERTIFICATE blocks`, { field });
  }
  return out;
}
