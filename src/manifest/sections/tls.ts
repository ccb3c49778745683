import { FIELDS } from '../fields.js';
import { jsonPath, type JsonReader } from '../../lib/json.js';
import { SECRET_TYPES } from '../secret-types.js';
import type { SecretSpec, TlsIncoming, TlsOutgoing, TlsTag } from '../types.js';

function port(r: JsonReader, v: unknown, path: string): string {
  const s = r.asString(v, path);
  if (!/^[0-9]{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535)
    throw r.fail(path, 'must be a port number from "1" to "65535" (a string)');
  return s;
}

function outgoing(r: JsonReader, v: unknown, path: string): TlsOutgoing {
  const o = r.object(v, path, FIELDS.TlsOutgoing);
  return {
    Port: r.required(o, path, 'Port', (x, p) => port(r, x, p)),
    Addr: r.required(o, path, 'Addr', (x, p) => r.asName(x, p)),
  };
}

function incoming(r: JsonReader, v: unknown, path: string, secrets: Record<string, SecretSpec>): TlsIncoming {
  const o = r.object(v, path, FIELDS.TlsIncoming);
  const entry: TlsIncoming = {
    Port: r.required(o, path, 'Port', (x, p) => port(r, x, p)),
    DisableClientAuth: r.optional(o, path, 'DisableClientAuth', (x, p) => r.asBoolean(x, p)) ?? false,
  };
  const cert = r.optional(o, path, 'Cert', (x, p) => {
    const name = r.asEntry(x, p, secrets, 'secret');
    const spec = secrets[name];
    if (spec !== undefined && !SECRET_TYPES[spec.Type].cert)
      throw r.fail(p, `secret "${name}" is ${spec.Type}, not a certificate`);
    // MarbleRun "TLS": a service for external clients sets Cert and disables client authentication.
    if (!entry.DisableClientAuth) throw r.fail(p, 'requires DisableClientAuth: true');
    return name;
  });
  if (cert !== undefined) entry.Cert = cert;
  else if (entry.DisableClientAuth)
    throw r.fail(jsonPath(path, 'DisableClientAuth'), 'requires Cert (a certificate secret to serve)');
  return entry;
}

/**
 * Reads MarbleRun's `TLS` section: tags with `Outgoing` (Port, Addr) and `Incoming` (Port, and
 * Cert with DisableClientAuth) connections.
 *
 * @example
 * ```ts
 * const tls = readTls(r, { web: { Incoming: [{ Port: '8443' }] } }, secrets);
 * ```
 */
export function readTls(r: JsonReader, v: unknown, secrets: Record<string, SecretSpec>): Record<string, TlsTag> {
  return r.map(v, 'TLS', (x, path) => {
    const o = r.object(x, path, FIELDS.TlsTag);
    return {
      Outgoing: r.optional(o, path, 'Outgoing', (e, p) => r.list(e, p, (y, q) => outgoing(r, y, q))) ?? [],
      Incoming: r.optional(o, path, 'Incoming', (e, p) => r.list(e, p, (y, q) => incoming(r, y, q, secrets))) ?? [],
    };
  });
}
