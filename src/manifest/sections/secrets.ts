import { ipAddressBytes } from '../../lib/ip.js';
import { FIELDS, SUBJECT_LISTS } from '../fields.js';
import { jsonPath, type JsonReader } from '../../lib/json.js';
import {
  DEFAULT_VALID_FOR_DAYS,
  MAX_VALID_FOR_DAYS,
  SECRET_TYPES,
  SECRET_TYPE_NAMES,
  sizeAllowed,
} from '../secret-types.js';
import type { CertSubject, CertTemplate, SecretSpec } from '../types.js';

/** `read`, with JSON null meaning absent (Go's nil slices in MarbleRun's documented `Cert` template). */
function nullable<T>(read: (v: unknown, p: string) => T | undefined): (v: unknown, p: string) => T | undefined {
  return (v, p) => (v === null ? undefined : read(v, p));
}

function subjectValue(r: JsonReader, key: string, v: unknown, path: string): string {
  const s = r.asName(v, path);
  // X.520 countryName is a two-letter ISO 3166 code.
  if (key === 'Country' && !/^[A-Za-z]{2}$/.test(s)) throw r.fail(path, 'must be a two-letter country code (ISO 3166)');
  return s;
}

function readSubject(r: JsonReader, v: unknown, path: string): CertSubject {
  const o = r.object(v, path, FIELDS.Subject);
  const out: CertSubject = {};
  // Go's zero value "" means no common name.
  r.assign(
    o,
    path,
    out,
    'CommonName',
    nullable((x, p) => r.asString(x, p) || undefined),
  );
  for (const key of SUBJECT_LISTS)
    r.assign(
      o,
      path,
      out,
      key,
      nullable((x, p) => r.list(x, p, (e, q) => subjectValue(r, key, e, q))),
    );
  return out;
}

function ipAddress(r: JsonReader, v: unknown, path: string): string {
  const ip = r.asString(v, path);
  if (ipAddressBytes(ip) === undefined) throw r.fail(path, `not an IP address: ${JSON.stringify(ip)}`);
  return ip;
}

/** MarbleRun "Available `Cert` fields": the subset of Go's x509.Certificate cloister's PKI honours. */
function readCert(r: JsonReader, v: unknown, path: string): CertTemplate {
  const o = r.object(v, path, FIELDS.Cert);
  const out: CertTemplate = {};
  r.assign(
    o,
    path,
    out,
    'Subject',
    nullable((x, p) => readSubject(r, x, p)),
  );
  r.assign(
    o,
    path,
    out,
    'DNSNames',
    nullable((x, p) => r.list(x, p, (e, q) => r.asName(e, q))),
  );
  r.assign(
    o,
    path,
    out,
    'IPAddresses',
    nullable((x, p) => r.list(x, p, (e, q) => ipAddress(r, e, q))),
  );
  return out;
}

function readSecret(r: JsonReader, v: unknown, path: string): SecretSpec {
  const o = r.object(v, path, FIELDS.Secret);
  const type = r.required(o, path, 'Type', (x, p) => r.asOneOf(x, p, SECRET_TYPE_NAMES));
  const row = SECRET_TYPES[type];
  const flag = (key: string) => r.optional(o, path, key, (x, p) => r.asBoolean(x, p)) ?? false;
  const spec: SecretSpec = {
    Type: type,
    Size: 0,
    Shared: flag('Shared'),
    UserDefined: flag('UserDefined'),
    ValidFor: 0,
  };
  if (row.userOnly && !spec.UserDefined)
    throw r.fail(jsonPath(path, 'UserDefined'), `must be true: ${type} secrets are uploaded by users, never generated`);

  const size = r.optional(o, path, 'Size', (x, p) => {
    const n = r.asInteger(x, p);
    if (!sizeAllowed(row.size, n)) throw r.fail(p, `must be ${row.size.text} for ${type}`);
    return n;
  });
  const fallback = row.size.default;
  if (size === undefined && fallback === undefined)
    throw r.fail(jsonPath(path, 'Size'), `is required for ${type} (${row.size.text})`);
  spec.Size = size ?? fallback ?? 0;

  // MarbleRun: ValidFor and Cert are "only for certificates"; a user-defined secret is uploaded whole.
  const certOnly = (key: string) => {
    if (!Object.hasOwn(o, key)) return;
    if (!row.cert) throw r.fail(jsonPath(path, key), `applies only to certificate secrets, not ${type}`);
    if (spec.UserDefined)
      throw r.fail(jsonPath(path, key), 'does not apply to user-defined secrets (the user uploads the certificate)');
  };
  certOnly('Cert');
  certOnly('ValidFor');
  r.assign(o, path, spec, 'Cert', (x, p) => readCert(r, x, p));
  // MarbleRun: ValidFor "default: 365" (0, Go's zero value, means the default).
  const validFor = r.optional(o, path, 'ValidFor', (x, p) => r.asInteger(x, p, MAX_VALID_FOR_DAYS)) ?? 0;
  if (row.cert && !spec.UserDefined) spec.ValidFor = validFor === 0 ? DEFAULT_VALID_FOR_DAYS : validFor;
  return spec;
}

/**
 * Reads MarbleRun's `Secrets` section.
 *
 * @example
 * ```ts
 * const secrets = readSecrets(new JsonReader('MANIFEST_INVALID', ''), { apiKey: { Type: 'symmetric-key', Size: 256, Shared: true } });
 * ```
 */
export function readSecrets(r: JsonReader, v: unknown): Record<string, SecretSpec> {
  return r.map(v, 'Secrets', (x, p) => readSecret(r, x, p));
}
