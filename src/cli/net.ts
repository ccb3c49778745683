import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { checkServerIdentity, type DetailedPeerCertificate, type PeerCertificate, type TLSSocket } from 'node:tls';
import { CloisterError, ERROR_CODES, type ErrorCode } from '../lib/errors.js';

/** HTTPS to the coordinator: addresses, requests, problem details turned back into typed errors. */

export interface Endpoint {
  host: string;
  port: number;
}

/** `HOST:PORT` (IPv6 in brackets). */
export function parseAddress(text: string, name: string): Endpoint {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CloisterError('USAGE', `${name}: "${text}" is not HOST:PORT`);
  return { host: (m[1] ?? m[2]) as string, port };
}

export interface CallOptions {
  /** Pinned root (PEM); without it the server is not authenticated (only for attesting it). */
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  body?: Uint8Array | string | undefined;
  servername?: string | undefined;
}

/** The peer's chain as sent (leaf first; the walk stops where the issuer repeats). */
function chainOf(socket: TLSSocket): Uint8Array[] {
  const out: Uint8Array[] = [];
  let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (c?.raw && !out.some((d) => Buffer.compare(d, c!.raw) === 0)) {
    out.push(new Uint8Array(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * A `checkServerIdentity` for a server pinned to `rootPem`: the host name as TLS checks it (RFC
 * 6125), and a leaf the root signed itself. The coordinator's serving leaf is the only leaf the
 * root signs directly; every workload's comes from the intermediate, so a workload that holds a
 * leaf with the coordinator's name still cannot pose as it. Runs during the handshake, before any
 * byte of a request is sent.
 */
export function coordinatorIdentity(rootPem: string): (host: string, cert: PeerCertificate) => Error | undefined {
  const root = new X509Certificate(rootPem);
  return (host, cert) => {
    const nameError = checkServerIdentity(host, cert);
    if (nameError) return nameError;
    const leaf = new X509Certificate(cert.raw);
    if (!leaf.checkIssued(root) || !leaf.verify(root.publicKey))
      return new Error(
        `certificate: the server's leaf is not signed by the pinned root itself (${leaf.issuer.replace(/\n/g, ', ')}): it is not the coordinator's serving certificate`,
      );
    return undefined;
  };
}

export interface Response {
  status: number;
  body: Buffer;
  /** The server's certificate chain as presented (DER, leaf first). */
  peerChain: Uint8Array[];
  json<T = unknown>(): T;
}

/**
 * One HTTPS request. Non-2xx answers throw the server's error code (RFC 7807 `code`) with its detail.
 *
 * @example
 * ```ts
 * const status = (await call(endpoint, 'GET', '/api/v1/status', { ca: rootPem })).json();
 * ```
 */
export function call(to: Endpoint, method: string, path: string, o: CallOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: to.host,
        port: to.port,
        method,
        path,
        ...(o.ca ? { ca: o.ca, checkServerIdentity: coordinatorIdentity(o.ca) } : { rejectUnauthorized: false }),
        ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}),
        headers:
          o.body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(o.body) },
        timeout: 30_000,
        agent: false,
      },
      (res) => {
        const peerChain = chainOf(res.socket as TLSSocket);
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          const body = Buffer.concat(parts);
          const status = res.statusCode ?? 0;
          const json = <T>() => JSON.parse(body.toString('utf8')) as T;
          if (status >= 200 && status < 300) return resolve({ status, body, peerChain, json });
          let code: ErrorCode = 'COORDINATOR_ERROR';
          let detail = body.toString('utf8').slice(0, 500);
          try {
            const p = json<{ code?: string; detail?: string }>();
            if (p.code && Object.hasOwn(ERROR_CODES, p.code)) code = p.code as ErrorCode;
            detail = p.detail ?? detail;
          } catch {
            // not problem JSON: keep the text
          }
          reject(new CloisterError(code, `coordinator answered ${status}: ${detail}`, { status }));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (cause) =>
      reject(
        new CloisterError(
          cause.message.includes('certificate') || cause.message.includes('self-signed')
            ? 'COORDINATOR_UNTRUSTED'
            : 'COORDINATOR_UNREACHABLE',
          `${to.host}:${to.port}: ${cause.message}`,
          { cause },
        ),
      ),
    );
    req.end(o.body);
  });
}
