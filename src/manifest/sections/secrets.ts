import { isIP } from 'node:net';
import { FIELDS, SUBJECT_LISTS } from '../fields.js';
import { at, type Json, type Reader } from '../lib/read.js';
import { DEFAULT_VALID_FOR_DAYS, MAX_EXT_KEY_USAGE, MAX_KEY_USAGE, MAX_VALID_FOR_DAYS, SECRET_TYPES, SECRET_TYPE_NAMES, sizeAllowed } from '../secret-types.js';
import type { CertSubject, CertTemplate, SecretSpec } from '../types.js';

// RFC 3339 date-time (Go's time.Time JSON form).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
// Go's zero time.Time, which MarbleRun's documented `Cert` template carries for "not set".
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** `read`, with JSON null meaning absent (Go's nil slices in MarbleRun's documented `Cert` template). */
function nullable<T>(read: (v: unknown, p: string) => T | undefined): (v: unknown, p: string) => T | undefined {
  return (v, p) => (v === null ? undefined : read(v, p));
}

function readSubject(r: Reader, v: unknown, path: string): CertSubject {
  const o = r.object(v, path, FIELDS.Subject);
  const out: CertSubject = {};
  const set = <K extends keyof CertSubject & string>(key: K, read: (x: unknown, p: string) => CertSubject[K]) => r.assign(o, path, out, key, nullable(read));
  set('CommonName', (x, p) => r.string(x, p));
  set('SerialNumber', (x, p) => r.string(x, p));
  for (const key of SUBJECT_LISTS) set(key, (x, p) => r.strings(x, p));
  return out;
}

function ipAddress(r: Reader, v: unknown, path: string): string {
  const ip = r.string(v, path);
  if (isIP(ip) === 0) throw r.fail(path, `not an IP address: ${JSON.stringify(ip)}`);
  return ip;
}

function notAfter(r: Reader, v: unknown, path: string): string | undefined {
  const s = r.string(v, path);
  if (s === GO_ZERO_TIME) return undefined;
  if (!RFC3339.test(s) || !Number.isFinite(Date.parse(s))) throw r.fail(path, 'must be an RFC 3339 date-time');
  return s;
}

/** MarbleRun "Available `Cert` fields": the subset of Go's x509.Certificate cloister supports. */
function readCert(r: Reader, v: unknown, path: string): CertTemplate {
  const o = r.object(v, path, FIELDS.Cert);
  const out: CertTemplate = {};
  const set = <K extends keyof CertTemplate & string>(key: K, read: (x: unknown, p: string) => CertTemplate[K] | undefined) => r.assign(o, path, out, key, nullable(read));
  set('Subject', (x, p) => readSubject(r, x, p));
  set('DNSNames', (x, p) => r.list(x, p, (e, q) => r.name(e, q)));
  set('IPAddresses', (x, p) => r.list(x, p, (e, q) => ipAddress(r, e, q)));
  set('EmailAddresses', (x, p) => r.list(x, p, (e, q) => r.name(e, q)));
  set('NotAfter', (x, p) => notAfter(r, x, p));
  set('KeyUsage', (x, p) => r.integer(x, p, MAX_KEY_USAGE));
  set('ExtKeyUsage', (x, p) => r.list(x, p, (e, q) => r.integer(e, q, MAX_EXT_KEY_USAGE)));
  return out;
}

function readSecret(r: Reader, v: unknown, path: string): SecretSpec {
  const o = r.object(v, path, FIELDS.Secret);
  const type = r.required(o, path, 'Type', (x, p) => r.oneOf(x, p, SECRET_TYPE_NAMES));
  const row = SECRET_TYPES[type];
  const flag = (key: string) => r.optional(o, path, key, (x, p) => r.boolean(x, p)) ?? false;
  const spec: SecretSpec = { Type: type, Size: 0, Shared: flag('Shared'), UserDefined: flag('UserDefined'), ValidFor: 0 };
  if (row.userOnly && !spec.UserDefined) throw r.fail(at(path, 'UserDefined'), `must be true: ${type} secrets are uploaded by users, never generated`);

  const size = r.optional(o, path, 'Size', (x, p) => {
    const n = r.integer(x, p);
    if (!sizeAllowed(row.size, n)) throw r.fail(p, `must be ${row.size.text} for ${type}`);
    return n;
  });
  const fallback = row.size.default;
  if (size === undefined && fallback === undefined) throw r.fail(at(path, 'Size'), `is required for ${type} (${row.size.text})`);
  spec.Size = size ?? fallback ?? 0;

  // MarbleRun: ValidFor and Cert are "only for certificates"; a user-defined secret is uploaded whole.
  const certOnly = (key: string) => {
    if (!Object.hasOwn(o, key)) return;
    if (!row.cert) throw r.fail(at(path, key), `applies only to certificate secrets, not ${type}`);
    if (spec.UserDefined) throw r.fail(at(path, key), 'does not apply to user-defined secrets (the user uploads the certificate)');
  };
  certOnly('Cert');
  certOnly('ValidFor');
  const cert = r.optional(o, path, 'Cert', (x, p) => readCert(r, x, p));
  if (cert !== undefined) spec.Cert = cert;
  const validFor = r.optional(o, path, 'ValidFor', (x, p) => r.integer(x, p, MAX_VALID_FOR_DAYS)) ?? 0;
  // MarbleRun: ValidFor "can't be specified in combination with the NotAfter".
  if (validFor !== 0 && cert?.NotAfter !== undefined) throw r.fail(at(path, 'ValidFor'), 'cannot be combined with Cert.NotAfter');
  if (row.cert && !spec.UserDefined && cert?.NotAfter === undefined) spec.ValidFor = validFor === 0 ? DEFAULT_VALID_FOR_DAYS : validFor;
  return spec;
}

/**
 * Reads MarbleRun's `Secrets` section.
 *
 * @example
 * ```ts
 * const secrets = readSecrets(new Reader('MANIFEST_INVALID'), { apiKey: { Type: 'symmetric-key', Size: 256, Shared: true } });
 * ```
 */
export function readSecrets(r: Reader, v: unknown): Record<string, SecretSpec> {
  return r.map(v, 'Secrets', (x, p) => readSecret(r, x, p));
}
