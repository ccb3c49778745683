import { FIELDS } from '../fields.js';
import { jsonPath } from '../../lib/json.js';
import type { ManifestReader } from '../lib/go-json.js';
import { SECRET_TYPES } from '../secret-types.js';
import type { SecretSpec, TlsIncoming, TlsOutgoing, TlsTag } from '../types.js';

/** MarbleRun requires a Port (any non-empty string); one that is no port number can never be served. */
function port(r: ManifestReader, o: Record<string, unknown>, path: string): string {
  const s = r.optional(o, path, 'Port', (x, p) => r.asString(x, p)) ?? '';
  const at = jsonPath(path, 'Port');
  if (s === '') throw r.fail(at, 'is required');
  if (!/^[0-9]{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535)
    r.warn(at, 'is not a port number from "1" to "65535": no connection can match it');
  return s;
}

/** MarbleRun's TLSTagEntry: Port, Addr, Cert, DisableClientAuth, of which each direction uses some. */
function entry(r: ManifestReader, v: unknown, path: string) {
  const o = r.object(v, path, FIELDS.TlsEntry);
  return {
    o,
    addr: r.optional(o, path, 'Addr', (x, p) => r.asString(x, p)) ?? '',
    cert: r.optional(o, path, 'Cert', (x, p) => r.asString(x, p)) ?? '',
    disableClientAuth: r.optional(o, path, 'DisableClientAuth', (x, p) => r.asBoolean(x, p)) ?? false,
  };
}

function outgoing(r: ManifestReader, v: unknown, path: string): TlsOutgoing {
  const e = entry(r, v, path);
  if (e.addr === '') throw r.fail(jsonPath(path, 'Addr'), 'is required');
  for (const [key, set] of [
    ['Cert', e.cert !== ''],
    ['DisableClientAuth', e.disableClientAuth],
  ] as const)
    if (set) r.warn(jsonPath(path, key), 'ignored, as in MarbleRun: it applies to incoming connections');
  return { Addr: e.addr, Port: port(r, e.o, path) };
}

function incoming(r: ManifestReader, v: unknown, path: string, secrets: Record<string, SecretSpec>): TlsIncoming {
  const e = entry(r, v, path);
  const out: TlsIncoming = { Port: port(r, e.o, path), DisableClientAuth: e.disableClientAuth };
  if (e.addr !== '')
    r.warn(jsonPath(path, 'Addr'), 'ignored, as in MarbleRun: an incoming connection is told by its Port');
  const certPath = jsonPath(path, 'Cert');
  if (e.cert === '') {
    if (e.disableClientAuth)
      throw r.fail(jsonPath(path, 'DisableClientAuth'), 'requires Cert (a certificate secret to serve)');
    return out;
  }
  const spec = r.asEntry(e.cert, certPath, secrets, 'secret') && secrets[e.cert];
  if (spec && !SECRET_TYPES[spec.Type].cert)
    r.warn(certPath, `secret "${e.cert}" is ${spec.Type}, not a certificate: it cannot be served`);
  // MarbleRun "TLS": a service for external clients sets Cert and disables client authentication.
  if (!e.disableClientAuth) throw r.fail(certPath, 'requires DisableClientAuth: true');
  out.Cert = e.cert;
  return out;
}

/**
 * Reads MarbleRun's `TLS` section with the checks of its `Check`: tags with `Outgoing` (Port and
 * Addr required) and `Incoming` (Port required; Cert, a secret, if and only if DisableClientAuth)
 * connections. cloister has no transparent TLS (MarbleRun's TTLS for EGo Marbles): the section is
 * checked, and a non-empty one reported as not acted on.
 *
 * @example
 * ```ts
 * const tls = readTls(r, { web: { Incoming: [{ Port: '8443' }] } }, secrets);
 * ```
 */
export function readTls(r: ManifestReader, v: unknown, secrets: Record<string, SecretSpec>): Record<string, TlsTag> {
  const tags = r.map(v, 'TLS', (x, path) => {
    const o = r.object(x, path, FIELDS.TlsTag);
    return {
      Outgoing: r.optional(o, path, 'Outgoing', (e, p) => r.list(e, p, (y, q) => outgoing(r, y, q))) ?? [],
      Incoming: r.optional(o, path, 'Incoming', (e, p) => r.list(e, p, (y, q) => incoming(r, y, q, secrets))) ?? [],
    };
  });
  if (Object.keys(tags).length > 0)
    r.warn(
      'TLS',
      'checked but not acted on: cloister does not elevate connections to TLS (MarbleRun TTLS); programs use their MARBLE_PREDEFINED_* certificate',
    );
  return tags;
}
