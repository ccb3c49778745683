import { randomBytes } from 'node:crypto';
import type { CaBundle } from './ca.js';
import { issueCertificate } from './issue.js';
import type { SubjectFields } from './lib/certificate.js';
import { generateKeys, invalid, RSA_MIN_BITS, SECRET_KEY_KINDS, subjectKey, type KeySpec } from './lib/keys.js';
import { EXT_KEY_USAGES } from '../manifest/secret-types.js';
import type { CertTemplate, SecretValue } from '../manifest/types.js';

/** A secret's value is the manifest's SecretValue: key bytes, or DER certificate and keys. */
export type { SecretValue };

/**
 * A manifest `Secrets` entry, as MarbleRun spells it (other fields, such as `Shared`, are ignored).
 *
 * @example
 * ```ts
 * const request: SecretRequest = { Type: 'cert-rsa', Size: 3072, ValidFor: 90, Cert: { Subject: { CommonName: 'api' }, DNSNames: ['api'] } };
 * ```
 */
export interface SecretRequest {
  Type: SecretValue['type'];
  /** Bits: key length (symmetric-key), modulus (cert-rsa), curve (cert-ecdsa: 224, 256, 384 or 521); 0 for cert-ed25519. */
  Size: number;
  /** Certificate validity in days; 0 means 365, as in MarbleRun (unless Cert.NotAfter is set). */
  ValidFor: number;
  Cert?: CertTemplate & { Subject?: SubjectFields };
}

type CertType = Exclude<SecretValue['type'], 'symmetric-key' | 'plain'>;

const MAX_SYMMETRIC_BITS = 65_536;
const MAX_RSA_BITS = 8192;
const DEFAULT_VALID_DAYS = 365;
/** MarbleRun's defaults for a generated certificate without names, so its manifests behave the same. */
const DEFAULT_DNS_NAMES = ['localhost'];
const DEFAULT_IP_ADDRESSES = ['127.0.0.1', '::1'];
const DEFAULT_COMMON_NAME = 'cloister Generated Certificate';
/** Go x509.KeyUsageDigitalSignature and KeyUsageCertSign (RFC 5280 §4.2.1.3 bits 0 and 5). */
const DIGITAL_SIGNATURE = 1;
const KEY_CERT_SIGN = 32;
const KEY_ENCIPHERMENT = 4;

/** The key each certificate secret type gets for a `Size`, or why the size is refused (one table, STYLE 5). */
const CERT_KEYS: Record<CertType, (size: number) => KeySpec | string> = {
  'cert-rsa': (size) =>
    Number.isSafeInteger(size) && size >= RSA_MIN_BITS && size <= MAX_RSA_BITS
      ? { type: 'rsa', bits: size }
      : `must be ${RSA_MIN_BITS}..${MAX_RSA_BITS} bits`,
  'cert-ecdsa': (size) => {
    const curve = ({ 224: 'P-224', 256: 'P-256', 384: 'P-384', 521: 'P-521' } as const)[size];
    return curve ? { type: 'ec', curve } : 'must be 224 (P-224), 256 (P-256), 384 (P-384) or 521 (P-521)';
  },
  'cert-ed25519': (size) => (size === 0 || size === 256 ? { type: 'ed25519' } : 'must be 0 (or 256) for Ed25519'),
};

const isCertType = (type: unknown): type is CertType => typeof type === 'string' && Object.hasOwn(CERT_KEYS, type);

/**
 * Generates a manifest secret. symmetric-key: Size/8 random bytes. cert-rsa / cert-ecdsa /
 * cert-ed25519: a fresh key pair and a certificate from the intermediate with the subject and
 * SANs of `Cert`, valid ValidFor days (MarbleRun defaults where `Cert` leaves them out: DNS
 * `localhost`, IPs 127.0.0.1 and ::1, CN the only DNS name or "cloister Generated Certificate").
 * `plain` secrets are user-defined, never generated: PKI_INVALID, as is any malformed field.
 *
 * @example
 * ```ts
 * const tls = await generateSecret({ Type: 'cert-ecdsa', Size: 256, ValidFor: 30, Cert: { DNSNames: ['db'] } }, ca, now);
 * const aes = await generateSecret({ Type: 'symmetric-key', Size: 256, ValidFor: 0 }, ca, now); // aes.key: 32 bytes
 * ```
 */
export async function generateSecret(request: SecretRequest, ca: CaBundle, now: number): Promise<SecretValue> {
  const { Type: type, Size: size } = request;
  if (type === 'symmetric-key') {
    if (!Number.isSafeInteger(size) || size < 8 || size > MAX_SYMMETRIC_BITS || size % 8 !== 0)
      throw invalid('Size', `must be a multiple of 8 bits, 8..${MAX_SYMMETRIC_BITS}`, size);
    return { type, key: new Uint8Array(randomBytes(size / 8)) };
  }
  if (type === 'plain') throw invalid('Type', 'plain secrets are user-defined and never generated', type);
  if (!isCertType(type))
    throw invalid('Type', 'must be symmetric-key, cert-rsa, cert-ecdsa, cert-ed25519 or plain', type);
  const spec = CERT_KEYS[type](size);
  if (typeof spec === 'string') throw invalid('Size', `${type}: ${spec}`, size);
  const cert = request.Cert ?? {};
  const dnsNames = cert.DNSNames ?? DEFAULT_DNS_NAMES;
  const commonName =
    cert.Subject?.CommonName ?? (dnsNames.length === 1 ? dnsNames[0] : undefined) ?? DEFAULT_COMMON_NAME;
  const pair = await generateKeys(spec);
  const key = subjectKey(pair.spki, 'public', SECRET_KEY_KINDS);
  const isCa = cert.IsCA === true;
  const der = await issueCertificate(ca, {
    key,
    subject: { ...cert.Subject, CommonName: commonName },
    dnsNames,
    ipAddresses: cert.IPAddresses ?? DEFAULT_IP_ADDRESSES,
    now,
    validDays: request.ValidFor === 0 ? DEFAULT_VALID_DAYS : request.ValidFor,
    serverAuth: true,
    clientAuth: true,
    fields: {
      subject: 'Cert.Subject',
      dnsNames: 'Cert.DNSNames',
      ipAddresses: 'Cert.IPAddresses',
      validDays: 'ValidFor',
    },
    // MarbleRun's generateCertificateForSecret: the manifest's KeyUsage and ExtKeyUsage, or its
    // defaults (serverAuth + clientAuth; digitalSignature, with keyCertSign only for a CA here:
    // RFC 5280 §4.2.1.3 reserves it for CAs, and keyEncipherment for RSA as cloister's leaves).
    template: {
      ca: isCa,
      pathLength: cert.MaxPathLen,
      keyUsage:
        cert.KeyUsage ??
        DIGITAL_SIGNATURE | (isCa ? KEY_CERT_SIGN : 0) | (key.kind.keyEncipherment ? KEY_ENCIPHERMENT : 0),
      extKeyUsages: (cert.ExtKeyUsage ?? [1, 2]).map((usage, i) => {
        const oid = EXT_KEY_USAGES[usage];
        if (oid === undefined) throw invalid(`Cert.ExtKeyUsage[${i}]`, 'is not a Go x509.ExtKeyUsage', usage);
        return oid;
      }),
      notAfter: cert.NotAfter,
    },
  });
  return { type, cert: der, private: pair.pkcs8, public: pair.spki };
}
