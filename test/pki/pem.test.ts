import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import {
  certChain,
  createCa,
  generateSecret,
  issueLeaf,
  pemCert,
  pemPrivateKey,
  pemPublicKey,
  type CaBundle,
  type SecretRequest,
} from '../../src/pki/index.js';
import { KEY_TYPES, spkiOf } from './helpers.js';

/** A TLS identity: PEM key and the chain to present. */
interface Identity {
  key: string;
  cert: string;
}

/**
 * One mutually authenticated TLS connection: the server requires a client certificate, each
 * side trusts only the root; resolves with what each side saw.
 */
async function handshake(root: string, server: Identity, client: Identity) {
  const seen: { server?: { authorized: boolean; peer: string }; client?: { authorized: boolean; peer: string } } = {};
  const srv = tls.createServer({ ...server, ca: root, requestCert: true, rejectUnauthorized: true });
  const serverSide = new Promise<void>((resolve, reject) => {
    srv.on('secureConnection', (socket) => {
      seen.server = { authorized: socket.authorized, peer: socket.getPeerCertificate().subject.CN as string };
      socket.end('hello');
      resolve();
    });
    srv.on('tlsClientError', reject);
  });
  serverSide.catch(() => undefined); // reported through the client side when the handshake fails there first
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = srv.address() as AddressInfo;
    const socket = tls.connect({ ...client, ca: root, host: '127.0.0.1', port, servername: 'localhost' });
    const text = await new Promise<string>((resolve, reject) => {
      let data = '';
      socket.on('secureConnect', () => {
        seen.client = { authorized: socket.authorized, peer: socket.getPeerCertificate().subject.CN as string };
      });
      socket.on('data', (d: Buffer) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    await serverSide;
    return { ...seen, text, protocol: socket.getProtocol() };
  } finally {
    await new Promise((resolve) => srv.close(resolve));
  }
}

describe('PEM and TLS', () => {
  let ca: CaBundle;
  const now = () => Math.floor(Date.now() / 1000); // TLS checks validity against the real clock
  before(async () => {
    ca = await createCa({ now: now() });
  });

  it('writes RFC 7468 PEM that Node reads back to the same DER', async () => {
    const secret = await generateSecret({ Type: 'cert-rsa', Size: 2048, ValidFor: 1 }, ca, now());
    const [cert, key, pub] = [secret.cert, secret.private, secret.public] as [Uint8Array, Uint8Array, Uint8Array];
    const text = pemCert(cert);
    assert.match(
      text,
      /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/,
    );
    assert.deepEqual(new Uint8Array(new X509Certificate(text).raw), cert);
    assert.match(pemPrivateKey(key), /^-----BEGIN PRIVATE KEY-----\n[^]*\n-----END PRIVATE KEY-----\n$/);
    assert.deepEqual(
      new Uint8Array(createPrivateKey(pemPrivateKey(key)).export({ format: 'der', type: 'pkcs8' })),
      key,
    );
    assert.match(pemPublicKey(pub), /^-----BEGIN PUBLIC KEY-----\n[^]*\n-----END PUBLIC KEY-----\n$/);
    assert.deepEqual(new Uint8Array(createPublicKey(pemPublicKey(pub)).export({ format: 'der', type: 'spki' })), pub);
    assert.equal(pemCert(new Uint8Array()), '-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n');
  });

  it('chains leaf, intermediate, root in that order', async () => {
    const leaf = await issueLeaf(ca, { publicKey: spkiOf(KEY_TYPES['P-256']()), commonName: 'svc', now: now() });
    const chain = certChain(ca, leaf);
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g) ?? [];
    assert.equal(blocks.join(''), chain);
    assert.deepEqual(blocks, [pemCert(leaf), pemCert(ca.intermediateCert), pemCert(ca.rootCert)]);
  });

  const pairs: [string, SecretRequest, keyof typeof KEY_TYPES][] = [
    ['ECDSA P-256 server, Ed25519 client', { Type: 'cert-ecdsa', Size: 256, ValidFor: 1 }, 'Ed25519'],
    ['RSA server, P-384 client', { Type: 'cert-rsa', Size: 2048, ValidFor: 1 }, 'P-384'],
    ['Ed25519 server, RSA client', { Type: 'cert-ed25519', Size: 0, ValidFor: 1 }, 'RSA-2048'],
  ];
  for (const [name, serverSecret, clientKey] of pairs) {
    it(`completes a mutually authenticated TLS handshake against the root: ${name}`, async () => {
      // The server: a generated secret (SANs localhost, 127.0.0.1, ::1 by default).
      const s = await generateSecret(serverSecret, ca, now());
      const server = {
        key: pemPrivateKey(s.private as Uint8Array),
        cert: pemCert(s.cert as Uint8Array) + pemCert(ca.intermediateCert),
      };
      // The client: a workload's leaf from its own key.
      const pair = KEY_TYPES[clientKey]();
      const leaf = await issueLeaf(ca, {
        publicKey: spkiOf(pair),
        commonName: 'client-workload',
        now: now(),
        serverAuth: false,
      });
      const client = {
        key: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        cert: certChain(ca, leaf),
      };
      const seen = await handshake(pemCert(ca.rootCert), server, client);
      assert.deepEqual(seen.server, { authorized: true, peer: 'client-workload' }, 'the server verified the client');
      assert.deepEqual(seen.client, { authorized: true, peer: 'localhost' }, 'the client verified the server');
      assert.equal(seen.text, 'hello');
    });
  }

  it('fails the handshake when the client trusts another root', async () => {
    const other = await createCa({ now: now(), name: 'other' });
    const s = await generateSecret({ Type: 'cert-ecdsa', Size: 256, ValidFor: 1 }, ca, now());
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = await issueLeaf(ca, { publicKey: spkiOf(pair), commonName: 'c', now: now() });
    const server = { key: pemPrivateKey(s.private as Uint8Array), cert: certChain(ca, s.cert as Uint8Array) };
    const client = {
      key: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      cert: certChain(ca, leaf),
    };
    await assert.rejects(handshake(pemCert(other.rootCert), server, client), /certificate|verify/i);
  });
});
