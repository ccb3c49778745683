import { ipAddressBytes } from '../../lib/ip.js';
import { FIELDS, GO_ZERO_TIME, isGoZero, SUBJECT_LISTS } from '../fields.js';
import { jsonPath, type JsonObject } from '../../lib/json.js';
import type { ManifestReader } from '../lib/go-json.js';
import {
  DEFAULT_VALID_FOR_DAYS,
  EXT_KEY_USAGES,
  SECRET_TYPES,
  SECRET_TYPE_NAMES,
  sizeAllowed,
} from '../secret-types.js';
import type { CertSubject, CertTemplate, SecretSpec } from '../types.js';

function subjectValue(r: ManifestReader, key: string, v: unknown, path: string): string {
  const s = r.asName(v, path);
  // X.520 countryName is a two-letter ISO 3166 code.
  if (key === 'Country' && !/^[A-Za-z]{2}$/.test(s)) throw r.fail(path, 'must be a two-letter country code (ISO 3166)');
  return s;
}

/** Members of Go's types that MarbleRun decodes but that do not reach the certificate, or that cloister does not write. */
function ignore(r: ManifestReader, o: JsonObject, path: string, keys: readonly string[], why: string): void {
  for (const key of keys) if (Object.hasOwn(o, key) && !isGoZero(o[key])) r.warn(jsonPath(path, key), why);
}

const NOT_WRITTEN = "ignored: cloister's PKI does not write it (MarbleRun's x509.CreateCertificate does)";
const NOT_USED = 'ignored, as in MarbleRun: x509.CreateCertificate does not read it from a template';
const OVERWRITTEN = 'ignored, as in MarbleRun: the coordinator sets it for each certificate it issues';

/** Go `pkix.Name`, of which `ToRDNSequence` writes the attribute lists, CommonName, SerialNumber and ExtraNames. */
function readSubject(r: ManifestReader, v: unknown, path: string): CertSubject {
  const o = r.object(v, path, FIELDS.Subject);
  const out: CertSubject = {};
  // Go's zero value "" means no common name, no serial number.
  r.assign(o, path, out, 'CommonName', (x, p) => r.asString(x, p) || undefined);
  r.assign(o, path, out, 'SerialNumber', (x, p) => r.asString(x, p) || undefined);
  for (const key of SUBJECT_LISTS)
    r.assign(o, path, out, key, (x, p) => r.list(x, p, (e, q) => subjectValue(r, key, e, q)));
  ignore(r, o, path, ['Names'], NOT_USED);
  ignore(r, o, path, ['ExtraNames'], NOT_WRITTEN);
  return out;
}

function ipAddress(r: ManifestReader, v: unknown, path: string): string {
  const ip = r.asString(v, path);
  if (ipAddressBytes(ip) === undefined) throw r.fail(path, `not an IP address: ${JSON.stringify(ip)}`);
  return ip;
}

/** Go `time.Time` in JSON: RFC 3339; the zero time is "not set". Unix seconds. */
function goTime(r: ManifestReader, v: unknown, path: string): number | undefined {
  const s = r.asString(v, path);
  if (s === GO_ZERO_TIME) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) ? Date.parse(s) : NaN;
  if (!Number.isFinite(ms)) throw r.fail(path, 'must be an RFC 3339 time (Go time.Time)');
  return Math.floor(ms / 1000);
}

/** A signed Go `int` (MaxPathLen: -1 means no limit). */
function goInt(r: ManifestReader, v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v < 0) return v;
  return r.asInteger(v, path);
}

/**
 * MarbleRun's `Cert`: a Go `x509.Certificate` used as the template of the generated certificate
 * (`generateCertificateForSecret`). cloister writes Subject, DNSNames, IPAddresses, IsCA with
 * MaxPathLen/MaxPathLenZero, KeyUsage, ExtKeyUsage and NotAfter; the rest is reported.
 */
function readCert(r: ManifestReader, v: unknown, path: string): CertTemplate {
  const o = r.object(v, path, FIELDS.Cert);
  const out: CertTemplate = {};
  r.assign(o, path, out, 'Subject', (x, p) => readSubject(r, x, p));
  r.assign(o, path, out, 'DNSNames', (x, p) => r.list(x, p, (e, q) => r.asName(e, q)));
  r.assign(o, path, out, 'IPAddresses', (x, p) => r.list(x, p, (e, q) => ipAddress(r, e, q)));
  r.assign(o, path, out, 'IsCA', (x, p) => r.asBoolean(x, p) || undefined);
  const maxPathLen = r.optional(o, path, 'MaxPathLen', (x, p) => goInt(r, x, p)) ?? 0;
  const maxPathLenZero = r.optional(o, path, 'MaxPathLenZero', (x, p) => r.asBoolean(x, p)) ?? false;
  // crypto/x509: MaxPathLen -1, or 0 without MaxPathLenZero, is "no limit".
  if (maxPathLen > 0 || (maxPathLen === 0 && maxPathLenZero)) out.MaxPathLen = maxPathLen;
  if (out.MaxPathLen !== undefined && !out.IsCA)
    r.warn(jsonPath(path, 'MaxPathLen'), 'ignored, as in MarbleRun: a path length applies only with IsCA');
  r.assign(o, path, out, 'KeyUsage', (x, p) => r.asInteger(x, p, 0x1ff) || undefined);
  r.assign(o, path, out, 'ExtKeyUsage', (x, p) =>
    r.list(x, p, (e, q) => {
      const usage = r.asInteger(e, q);
      // crypto/x509 refuses an extended key usage it has no OID for.
      if (EXT_KEY_USAGES[usage] === undefined)
        throw r.fail(q, 'unknown extended key usage (Go x509.ExtKeyUsage 0..13)');
      return usage;
    }),
  );
  r.assign(o, path, out, 'NotAfter', (x, p) => goTime(r, x, p));
  ignore(r, o, path, OVERWRITTEN_FIELDS, OVERWRITTEN);
  ignore(r, o, path, [...NOT_USED_FIELDS], NOT_USED);
  ignore(
    r,
    o,
    path,
    FIELDS.Cert.filter((k) => !CERT_READ.has(k) && !NOT_USED_FIELDS.has(k) && !OVERWRITTEN_FIELDS.includes(k)),
    NOT_WRITTEN,
  );
  return out;
}

/** The members of `Cert` {@link readCert} reads, and those the coordinator sets itself (MarbleRun too). */
const CERT_READ = new Set([
  'Subject',
  'DNSNames',
  'IPAddresses',
  'IsCA',
  'MaxPathLen',
  'MaxPathLenZero',
  'KeyUsage',
  'ExtKeyUsage',
  'NotAfter',
]);
const OVERWRITTEN_FIELDS = ['NotBefore', 'SerialNumber', 'BasicConstraintsValid'];
/** Members of a parsed certificate, which a template's issuance does not read. */
const NOT_USED_FIELDS = new Set([
  'Raw',
  'RawTBSCertificate',
  'RawSubjectPublicKeyInfo',
  'RawSubject',
  'RawIssuer',
  'Signature',
  'SignatureAlgorithm',
  'PublicKeyAlgorithm',
  'PublicKey',
  'Version',
  'Issuer',
  'Extensions',
  'UnhandledCriticalExtensions',
  'AuthorityKeyId',
]);

/**
 * One secret, checked as MarbleRun's `Check` and its secret generation (`GenerateSecrets`) check
 * it when the manifest is set: a known type; for a generated secret, a size its type can have
 * (symmetric-key a non-zero multiple of 8, cert-rsa an RSA modulus, cert-ecdsa a curve: 224, 256,
 * 384 or 521, cert-ed25519 none) and no plain secret; NotAfter and ValidFor not both. Members a
 * secret's type or origin makes meaningless (Cert of a key, ValidFor of an uploaded certificate,
 * Private and Public) are accepted, as MarbleRun accepts them, and reported when set.
 */
function readSecret(r: ManifestReader, v: unknown, path: string): SecretSpec {
  const o = r.object(v, path, FIELDS.Secret);
  const type = r.required(o, path, 'Type', (x, p) => r.asOneOf(x, p, SECRET_TYPE_NAMES));
  const row = SECRET_TYPES[type];
  const flag = (key: string) => r.optional(o, path, key, (x, p) => r.asBoolean(x, p)) ?? false;
  const spec: SecretSpec = {
    Type: type,
    Size: r.optional(o, path, 'Size', (x, p) => r.asInteger(x, p)) ?? 0,
    Shared: flag('Shared'),
    UserDefined: flag('UserDefined'),
    ValidFor: r.optional(o, path, 'ValidFor', (x, p) => r.asInteger(x, p)) ?? 0,
  };
  const sizePath = jsonPath(path, 'Size');
  if (spec.UserDefined) {
    if (type === 'symmetric-key' && !sizeAllowed(row.size, spec.Size))
      r.warn(
        sizePath,
        `is not ${row.size.text}: MarbleRun refuses every upload of this secret (cloister takes a key of any length when Size is 0)`,
      );
  } else if (row.userOnly) {
    throw r.fail(jsonPath(path, 'UserDefined'), `must be true: ${type} secrets are uploaded by users, never generated`);
  } else if (!sizeAllowed(row.size, spec.Size)) {
    throw r.fail(sizePath, `must be ${row.size.text} for a generated ${type} secret`);
  }

  for (const key of ['Private', 'Public'])
    if (r.optional(o, path, key, (x, p) => r.asGoBytes(x, p))?.length)
      r.warn(jsonPath(path, key), 'ignored: the coordinator generates the keys, or a user uploads them');
  const generatedCert = row.cert && !spec.UserDefined;
  // MarbleRun: ValidFor and Cert are for certificates it generates; elsewhere they mean nothing.
  const unused = (key: string) => {
    if (generatedCert || !Object.hasOwn(o, key) || isGoZero(o[key])) return false;
    r.warn(
      jsonPath(path, key),
      row.cert
        ? 'ignored: a user-defined certificate is uploaded whole'
        : `ignored: ${type} secrets are no certificates`,
    );
    return true;
  };
  if (!unused('Cert')) r.assign(o, path, spec, 'Cert', (x, p) => (isGoZero(x) ? undefined : readCert(r, x, p)));
  unused('ValidFor');
  if (!generatedCert) {
    delete spec.Cert;
    spec.ValidFor = 0;
  } else if (spec.Cert?.NotAfter !== undefined) {
    if (spec.ValidFor !== 0)
      throw r.fail(
        jsonPath(path, 'ValidFor'),
        'ambiguous certificate validity: Cert.NotAfter and ValidFor are both set',
      );
  } else if (spec.ValidFor === 0) {
    // MarbleRun: ValidFor "default: 365" (0, Go's zero value, means the default).
    spec.ValidFor = DEFAULT_VALID_FOR_DAYS;
  }
  return spec;
}

/**
 * Reads MarbleRun's `Secrets` section.
 *
 * @example
 * ```ts
 * const secrets = readSecrets(new ManifestReader(), { apiKey: { Type: 'symmetric-key', Size: 256, Shared: true } });
 * ```
 */
export function readSecrets(r: ManifestReader, v: unknown): Record<string, SecretSpec> {
  return r.map(v, 'Secrets', (x, p) => readSecret(r, x, p));
}
