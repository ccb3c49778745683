import 'reflect-metadata';

import assert from 'node:assert/strict';
import * as x509 from '@peculiar/x509';
import { constants, createHmac, generateKeyPairSync, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CloisterError, ErrorCode } from '../../../src/lib/errors.js';
import { throwsCode } from '../dcap/helpers.js';

/**
 * Shared helpers of the MAA token tests: the real 2021 vector, a JWS builder independent of the
 * code under test (base64url from Buffer, signatures from node:crypto), keys of each algorithm,
 * and certificates for `x5c` made with @peculiar/x509.
 */

/** dist/test/attest/maa/*.js → test/vectors/maa/sharedwus-sgx-token-2021/. */
const VECTOR = new URL('../../../../test/vectors/maa/sharedwus-sgx-token-2021/', import.meta.url);

const read = (file: string): string => readFileSync(new URL(file, VECTOR), 'utf8');

/** The vector's token, as served (the file ends with a newline, which is not part of the JWS). */
export const TOKEN = read('token.jwt').trim();
export const JWKS = JSON.parse(read('jwks.json')) as { keys: Array<Record<string, string>> };
export const SIGNING_KEY_PEM = read('signing-key.pem');
export const EXPECTED = JSON.parse(read('expected.json')) as {
  kid: string;
  issuer: string;
  iat: number;
  nbf: number;
  exp: number;
  verify_at_unix: number;
  expected: { claims: Record<string, string | number | boolean>; runtime_jwk: Record<string, string> };
};
export const DECODED = JSON.parse(read('decoded.json')) as {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
};

/** A fresh copy of the vector's key set. */
export const jwks = (): { keys: Array<Record<string, unknown>> } => structuredClone(JWKS);

/** Options that verify the vector: its time, its issuer, and the 1024-bit key allowed. */
export const VECTOR_OPTIONS = { now: EXPECTED.verify_at_unix, issuer: EXPECTED.issuer, minRsaBits: 1024 } as const;

export const b64u = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');
export const json64 = (value: unknown): string => b64u(JSON.stringify(value));

/** The three parts of a compact JWS. */
export function parts(token: string): [string, string, string] {
  const p = token.split('.');
  assert.equal(p.length, 3);
  return p as [string, string, string];
}

/** Signers by algorithm, independent of the verifier (RFC 7518 §3.3-3.5). */
const SIGNERS: Record<string, (input: Buffer, key: KeyObject) => Buffer> = {
  RS256: (input, key) => sign('sha256', input, key),
  PS256: (input, key) => sign('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  ES256: (input, key) => sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' }),
};

/** A compact JWS of `header` and `payload`, signed with `key` under `header.alg`. */
export function signJws(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  return signParts(json64(header), json64(payload), String(header['alg']), key);
}

/** A compact JWS of already encoded parts (for payloads that are not objects), signed under `alg`. */
export function signParts(header: string, payload: string, alg: string, key: KeyObject): string {
  const signer = SIGNERS[alg];
  assert.ok(signer, `no signer for ${alg}`);
  return `${header}.${payload}.${b64u(signer(Buffer.from(`${header}.${payload}`), key))}`;
}

/** An HS256 "signature" (RFC 7518 §3.2) keyed with arbitrary bytes: the confusion attack's tool. */
export function hmacJws(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret: Uint8Array | string,
): string {
  const input = `${json64(header)}.${json64(payload)}`;
  return `${input}.${b64u(createHmac('sha256', secret).update(input).digest())}`;
}

export interface TestKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: string;
  /** The public JWK, with kid. */
  jwk: Record<string, unknown>;
}

export function testKey(
  kind: 'rsa2048' | 'rsa1024' | 'p256' | 'p384',
  kid = `kid-${kind}-${randomBytes(4).toString('hex')}`,
): TestKey {
  const pair =
    kind === 'rsa2048' || kind === 'rsa1024'
      ? generateKeyPairSync('rsa', { modulusLength: kind === 'rsa2048' ? 2048 : 1024 })
      : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'P-256' : 'P-384' });
  return { ...pair, kid, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid } };
}

/** A token like the ones of cloister's MAA-compatible service (issue 7): RS256, kid and jku, MAA claims. */
export function maaLikePayload(
  issuer: string,
  now: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    iss: issuer,
    iat: now - 60,
    nbf: now - 60,
    exp: now + 8 * 3600,
    jti: randomBytes(32).toString('hex'),
    'x-ms-ver': '1.0',
    'x-ms-attestation-type': 'sgx',
    'x-ms-policy-hash': b64u(randomBytes(32)),
    'x-ms-sgx-mrenclave': 'ab'.repeat(32),
    'x-ms-sgx-mrsigner': 'cd'.repeat(32),
    'x-ms-sgx-product-id': 7,
    'x-ms-sgx-svn': 3,
    'x-ms-sgx-is-debuggable': false,
    'x-ms-sgx-ehd': b64u(Buffer.alloc(64, 0x42)),
    ...extra,
  };
}

export { throwsCode, onlyCloisterErrors } from '../dcap/helpers.js';

/** Awaits `promise`; it must reject with a CloisterError of `code`, which is returned. */
export async function rejectsCode(promise: Promise<unknown>, code: ErrorCode): Promise<CloisterError> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected a rejection with ${code}, got ${String(caught)}`);
  return throwsCode(() => {
    throw caught as Error;
  }, code);
}

const pem64 = (base64: string): string => `${base64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n`;

const crypto = webcrypto;

/**
 * A certificate (DER) holding `subjectKey`, signed by a throwaway CA key: the shape of an `x5c`
 * entry. MAA's /certs serves self-signed certificates; the verifier never checks the issuer.
 */
export async function certificateFor(subjectKey: KeyObject, name = 'CN=https://test.attest.example'): Promise<Buffer> {
  const issuerAlg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const issuer = await webcrypto.subtle.generateKey(issuerAlg, false, ['sign', 'verify']);
  const spki = subjectKey.export({ format: 'der', type: 'spki' });
  const type = subjectKey.asymmetricKeyType;
  const importAlg =
    type === 'ec'
      ? { name: 'ECDSA', namedCurve: subjectKey.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'P-256' : 'P-384' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const publicKey = await webcrypto.subtle.importKey('spki', spki, importAlg, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: `01${randomBytes(8).toString('hex')}`,
      subject: name,
      issuer: 'CN=throwaway test CA',
      notBefore: new Date(0),
      notAfter: new Date(4102444800000),
      publicKey,
      signingKey: issuer.privateKey,
      signingAlgorithm: issuerAlg,
    },
    crypto,
  );
  return Buffer.from(cert.rawData);
}

/** A self-signed P-256 TLS certificate and key (PEM) for 127.0.0.1. */
export async function tlsCertificate(): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: `01${randomBytes(8).toString('hex')}`,
      name: 'CN=127.0.0.1, O=cloister test MAA instance',
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
      ],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { cert: cert.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pem64(pkcs8)}-----END PRIVATE KEY-----\n` };
}
