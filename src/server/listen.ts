import { generateKeyPairSync } from 'node:crypto';
import type { RequestListener } from 'node:http';
import https from 'node:https';
import type { Server } from 'node:net';
import { isIP } from 'node:net';
import { CloisterError } from '../lib/errors.js';
import { issueLeaf, pemPrivateKey, servingChain, type CaBundle } from '../pki/index.js';

/** What every HTTPS server of cloister does at start: a serving identity, and a listen that fails with a typed error. */

/**
 * A fresh P-256 key and a leaf certified by `ca`'s root itself for the given host names and
 * addresses (plus localhost and the loopback addresses), as `https.createServer` options. Every
 * workload's leaf comes from the intermediate, so no workload certificate can pass for this one
 * with a client that checks who signed it (cli/net.ts).
 *
 * @example
 * ```ts
 * const tls = await servingIdentity(ca, 'cloister coordinator', ['coordinator.example', '10.0.0.5'], Date.now() / 1000);
 * ```
 */
export async function servingIdentity(
  ca: CaBundle,
  commonName: string,
  hosts: readonly string[],
  now: number,
  clientAuth = true,
): Promise<{ cert: string; key: string }> {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const names = [...new Set(['localhost', ...hosts])];
  const leaf = await issueLeaf(ca, {
    publicKey: new Uint8Array(keys.publicKey.export({ format: 'der', type: 'spki' })),
    commonName,
    dnsNames: names.filter((h) => !isIP(h)),
    ipAddresses: [...new Set(['127.0.0.1', '::1', ...names.filter((h) => isIP(h))])],
    now,
    clientAuth,
    issuer: 'root',
  });
  return {
    cert: servingChain(ca, leaf),
    key: pemPrivateKey(new Uint8Array(keys.privateKey.export({ format: 'der', type: 'pkcs8' }))),
  };
}

/**
 * How long a client may take, so that slow clients (slowloris, a body that stalls) cannot hold
 * connections: Node's own defaults are 120 s for the TLS handshake, 60 s for the headers and
 * 300 s for the request, checked every 30 s. Bodies here are at most a few MiB, so a request
 * that has not arrived after 30 s is cut off (with Node's 408). These are `https.ServerOptions`
 * members; a caller's options override them (tests make them small).
 */
export const SERVER_TIMEOUTS = {
  handshakeTimeout: 10_000,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  /** How often the headers and request timeouts are checked. */
  connectionsCheckingInterval: 1_000,
} as const satisfies https.ServerOptions;

/**
 * An HTTPS server with {@link SERVER_TIMEOUTS} (unless `options` says otherwise).
 *
 * @example
 * ```ts
 * const server = httpsServer({ ...tls, requestCert: true, rejectUnauthorized: false }, router(routes, log));
 * ```
 */
export function httpsServer(options: https.ServerOptions, listener: RequestListener): https.Server {
  return https.createServer({ ...SERVER_TIMEOUTS, ...options }, listener);
}

/** Listens, or fails with IO naming the address. */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e) =>
      reject(new CloisterError('IO', `cannot listen on ${host}:${port}: ${e.message}`, { cause: e })),
    );
    server.listen(port, host, resolve);
  });
}
