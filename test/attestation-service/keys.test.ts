import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCa } from '../../src/pki/index.js';
import { parseJwks } from '../../src/attest/index.js';
import {
  createSigningKey,
  decodeServiceState,
  encodeServiceState,
  jwks,
  rotateKeys,
  type SigningKey,
} from '../../src/attestation-service/index.js';
import { throwsCode } from '../attest/dcap/helpers.js';

/** Signing keys: their certificates, the key set, rotation with a grace period, the sealed-state form. */

const NOW = 1_800_000_000;
const HOUR = 3600;
const instance = 'https://attest.example:8443';

test('a signing key: RSA 2048, a self-signed certificate for the instance, kid = base64(SHA-256(cert))', async () => {
  const key = await createSigningKey(instance, NOW);
  const cert = new X509Certificate(key.cert);
  assert.equal(cert.subject, `CN=${instance}`);
  assert.equal(cert.issuer, cert.subject);
  assert.ok(cert.verify(cert.publicKey));
  assert.equal(key.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(key.kid, Buffer.from(cert.fingerprint256.replaceAll(':', ''), 'hex').toString('base64'));
  const set = jwks([key]);
  assert.deepEqual(parseJwks(set).kids, [key.kid]);
  assert.deepEqual(Object.keys(set.keys[0] ?? {}), ['kid', 'kty', 'use', 'alg', 'n', 'e', 'x5c']);
});

test('rotation retires the current key, keeps it while its tokens live, then drops it', () => {
  const k = (kid: string, retiredAt?: number): SigningKey => ({
    kid,
    privateKey: undefined as never,
    cert: new Uint8Array(),
    createdAt: NOW - 10 * HOUR,
    retiredAt,
  });
  const lifetime = 8 * HOUR;
  const once = rotateKeys([k('a')], k('b'), NOW, lifetime);
  assert.deepEqual(
    once.map((x) => [x.kid, x.retiredAt]),
    [
      ['a', NOW],
      ['b', undefined],
    ],
  );
  const twice = rotateKeys(once, k('c'), NOW + lifetime - 1, lifetime);
  assert.deepEqual(
    twice.map((x) => x.kid),
    ['a', 'b', 'c'],
  );
  const later = rotateKeys(twice, k('d'), NOW + lifetime, lifetime);
  assert.deepEqual(
    later.map((x) => [x.kid, x.retiredAt]),
    [
      ['b', NOW + lifetime - 1],
      ['c', NOW + lifetime],
      ['d', undefined],
    ],
  );
  assert.deepEqual(jwks([]).keys, []);
});

test('the sealed-state form round-trips; unreadable state is STATE_CORRUPT naming the path', async () => {
  const state = {
    version: 1 as const,
    tls: await createCa({ now: NOW }),
    keys: [{ ...(await createSigningKey(instance, NOW)), retiredAt: NOW }, await createSigningKey(instance, NOW)],
  };
  const back = decodeServiceState(encodeServiceState(state));
  assert.deepEqual(
    back.keys.map((k) => [k.kid, k.retiredAt, k.createdAt]),
    state.keys.map((k) => [k.kid, k.retiredAt, k.createdAt]),
  );
  assert.ok(back.keys.every((k, i) => k.privateKey.equals(state.keys[i]?.privateKey as never)));
  assert.deepEqual(back.tls, state.tls);
  const doc = JSON.parse(Buffer.from(encodeServiceState(state)).toString()) as {
    keys: Array<Record<string, unknown>>;
    version: number;
  };
  const corrupt = (change: (d: typeof doc) => void, path: string) => {
    const d = structuredClone(doc);
    change(d);
    assert.equal(throwsCode(() => decodeServiceState(Buffer.from(JSON.stringify(d))), 'STATE_CORRUPT').path, path);
  };
  corrupt((d) => (d.version = 2), 'state.version');
  corrupt((d) => (d.keys[1] = { ...d.keys[1], privateKey: 'AAAA' }), 'state.keys[1].privateKey');
  corrupt((d) => (d.keys[1] = { ...d.keys[1], retiredAt: NOW }), 'state.keys');
  corrupt((d) => (d.keys = []), 'state.keys');
  throwsCode(() => decodeServiceState(Buffer.from('{')), 'STATE_CORRUPT');
});
