import { FIELDS } from '../fields.js';
import { jsonPath, type JsonReader } from '../../lib/json.js';
import { ENCODING_NAMES, envText, type Fail } from '../lib/value.js';
import { checkAction, valueSegments, type Target } from '../template.js';
import type { Marble, Package, Parameters, SecretSpec, TlsTag, Value } from '../types.js';
import { ipAddressBytes } from '../../lib/ip.js';
import { otherServiceOf } from '../names.js';

/** An RFC 1123 host name (the form a dNSName SAN takes, RFC 5280 §4.2.1.6); wildcards are refused. */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

function dnsName(r: JsonReader, v: unknown, path: string): string {
  const name = r.asString(v, path);
  if (name.includes('*')) throw r.fail(path, 'must not be a wildcard: each name a service may claim is listed');
  if (!HOST_NAME.test(name)) throw r.fail(path, 'must be a DNS host name');
  return name;
}

function ipAddress(r: JsonReader, v: unknown, path: string): string {
  const address = r.asString(v, path);
  if (ipAddressBytes(address) === undefined) throw r.fail(path, 'must be an IPv4 or IPv6 address');
  return address;
}

/**
 * cloister's rule for file names: absolute or relative, no NUL, no `..` segment (a file must not
 * escape the directory `cloister run` writes relative paths to), and a file name at the end.
 */
function checkFileName(r: JsonReader, name: string, path: string): void {
  const segments = name.split('/');
  const last = segments[segments.length - 1] ?? '';
  if (name.includes('\0') || segments.includes('..') || last === '' || last === '.')
    throw r.fail(path, 'must be a file path without NUL bytes or ".." segments, ending in a file name');
}

/** environ(7): a name is not empty and holds neither "=" nor NUL. */
function checkEnvName(r: JsonReader, name: string, path: string): void {
  if (name.includes('=') || name.includes('\0'))
    throw r.fail(path, 'an environment variable name must not contain "=" or NUL');
}

/**
 * MarbleRun "Files and Env": a string, or `{ Data, Encoding, NoTemplates }` (Encoding matched
 * case-insensitively, "" meaning string). The template dry run runs here.
 */
function readValue(
  r: JsonReader,
  v: unknown,
  path: string,
  target: Target,
  secrets: Record<string, SecretSpec>,
): Value {
  let value: Value;
  if (typeof v === 'string') {
    value = { Data: v, Encoding: 'string', NoTemplates: false };
  } else {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw r.fail(
        path,
        `must be a string or an object { Data, Encoding, NoTemplates }${typeof v === 'number' || typeof v === 'boolean' ? `: write ${JSON.stringify(String(v))} for this value` : ''}`,
      );
    const o = r.object(v, path, FIELDS.Value);
    value = {
      Data: r.required(o, path, 'Data', (x, p) => r.asString(x, p)),
      Encoding:
        r.optional(o, path, 'Encoding', (x, p) => (x === '' ? 'string' : r.asOneOf(x, p, ENCODING_NAMES, true))) ??
        'string',
      NoTemplates: r.optional(o, path, 'NoTemplates', (x, p) => r.asBoolean(x, p)) ?? false,
    };
  }
  const fail: Fail = (why, cause) => r.fail(path, why, cause);
  const segments = valueSegments(value, fail);
  for (const segment of segments) {
    if (segment instanceof Uint8Array) {
      if (target === 'Env') envText(segment, fail);
    } else {
      checkAction(segment, target, secrets, fail);
    }
  }
  return value;
}

function readParameters(r: JsonReader, v: unknown, path: string, secrets: Record<string, SecretSpec>): Parameters {
  const o = r.object(v, path, FIELDS.Parameters);
  const values = (target: Target, check: (name: string, path: string) => void) =>
    r.optional(o, path, target, (x, p) =>
      r.map(x, p, (y, q, name) => {
        check(name, q);
        return readValue(r, y, q, target, secrets);
      }),
    ) ?? (Object.create(null) as Record<string, Value>);
  return {
    Files: values('Files', (name, p) => checkFileName(r, name, p)),
    Env: values('Env', (name, p) => checkEnvName(r, name, p)),
    // MarbleRun "Argv": passed in order, no templates; exec(2) takes no NUL bytes.
    Argv:
      r.optional(o, path, 'Argv', (x, p) =>
        r.list(x, p, (e, q) => {
          const arg = r.asString(e, q);
          if (arg.includes('\0')) throw r.fail(q, 'must not contain NUL bytes');
          return arg;
        }),
      ) ?? [],
  };
}

/**
 * Reads MarbleRun's `Marbles` section (at least one, as MarbleRun requires): each names a
 * package, TLS tags that exist, and parameters whose templates pass the dry run.
 *
 * @example
 * ```ts
 * const marbles = readMarbles(r, { backend: { Package: 'backend' } }, { packages, secrets, tls });
 * ```
 */
export function readMarbles(
  r: JsonReader,
  v: unknown,
  m: { packages: Record<string, Package>; secrets: Record<string, SecretSpec>; tls: Record<string, TlsTag> },
): Record<string, Marble> {
  const marbles = r.map(v, 'Marbles', (x, path) => {
    const o = r.object(x, path, FIELDS.Marble);
    const marble: Marble = {
      Package: r.required(o, path, 'Package', (y, p) => r.asEntry(y, p, m.packages, 'package')),
      MaxActivations: r.optional(o, path, 'MaxActivations', (y, p) => r.asInteger(y, p)) ?? 0,
      Parameters:
        r.optional(o, path, 'Parameters', (y, p) => readParameters(r, y, p, m.secrets)) ??
        readParameters(r, {}, jsonPath(path, 'Parameters'), m.secrets),
      TLS: r.optional(o, path, 'TLS', (y, p) => r.list(y, p, (e, q) => r.asEntry(e, q, m.tls, 'TLS tag'))) ?? [],
    };
    r.assign(o, path, marble, 'DNSNames', (y, p) => r.list(y, p, (e, q) => dnsName(r, e, q)));
    r.assign(o, path, marble, 'IPAddresses', (y, p) => r.list(y, p, (e, q) => ipAddress(r, e, q)));
    return marble;
  });
  if (Object.keys(marbles).length === 0) throw r.fail('Marbles', 'must define at least one marble');
  // A service listed under another's name could pose as it (manifest/names.ts).
  for (const [service, marble] of Object.entries(marbles))
    marble.DNSNames?.forEach((name, i) => {
      const other = otherServiceOf({ Marbles: marbles }, service, name);
      if (other !== undefined)
        throw r.fail(
          jsonPath(jsonPath(jsonPath('Marbles', service), 'DNSNames'), i),
          `"${name}" is the name of service "${other}"`,
        );
    });
  return marbles;
}
