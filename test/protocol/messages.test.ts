import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CloisterError } from '../../src/lib/errors.js';
import { JsonReader } from '../../src/lib/json.js';
import {
  decodeActivationRequest,
  decodeActivationResponse,
  decodeCommit,
  decodeGrant,
  decodePayload,
  decodeRegistration,
  encodeActivationRequest,
  encodeGrant,
  encodePayload,
  openPayload,
  sealPayload,
  workloadKey,
  type ActivationPayload,
  type VolumeGrant,
} from '../../src/protocol/index.js';

/** The wire messages between workloads and the coordinator: what decodes, and what each bad form gets. */

const reader = new JsonReader('COORDINATOR_ERROR', 'x');
/** Decoded maps have no prototype (a `__proto__` name stays a name); compare their contents. */
const plain = <T>(value: T): T => structuredClone(value);
const code = (expected: string) => (e: unknown) => e instanceof CloisterError && e.code === expected;
const root = 'ab'.repeat(32);
const grant: VolumeGrant = {
  mode: 'read-write',
  key: new Uint8Array(32).fill(7),
  files: { 'db/main.sqlite': { version: 3, root } },
  sealed: '/data.sealed',
  path: '/data',
};

test('an activation request and a payload survive encoding and decoding', () => {
  const request = {
    service: 'api',
    instanceId: 'i-1',
    nonce: new Uint8Array(randomBytes(32)),
    evidence: new Uint8Array(randomBytes(100)),
    publicKey: new Uint8Array(randomBytes(91)),
    dnsNames: ['api.internal'],
  };
  assert.deepEqual(decodeActivationRequest(JSON.parse(JSON.stringify(encodeActivationRequest(request)))), request);
  const payload: ActivationPayload = {
    secrets: { token: { type: 'symmetric-key', key: new Uint8Array(16).fill(1) } },
    volumes: { data: grant },
  };
  assert.deepEqual(plain(decodePayload(JSON.parse(JSON.stringify(encodePayload(payload))))), payload);
});

test('a file record or commit that escapes its volume is refused before anything is touched', () => {
  for (const path of ['../etc/passwd', '/etc/passwd', 'a/../../b', 'a//b', './a', 'a/.', '', 'a\0b']) {
    assert.throws(
      () => decodeGrant(reader, { ...encodeGrant(grant), files: { [path]: { version: 1, root } } }, 'g'),
      code('COORDINATOR_ERROR'),
      path,
    );
    assert.throws(
      () => decodeCommit({ volume: 'data', changes: [{ path, expectedVersion: 0, root }] }),
      code('REQUEST_INVALID'),
      path,
    );
    assert.throws(
      () => decodeRegistration({ volume: 'data', files: { [path]: { version: 1, root } } }),
      code('REQUEST_INVALID'),
    );
  }
});

test("a grant's sealed and plaintext locations never climb with ..", () => {
  for (const where of ['', '../data', '/a/../etc', 'a/..', '/a\0']) {
    assert.throws(() => decodeGrant(reader, { ...encodeGrant(grant), path: where }, 'g'), code('COORDINATOR_ERROR'));
    assert.throws(() => decodeGrant(reader, { ...encodeGrant(grant), sealed: where }, 'g'), code('COORDINATOR_ERROR'));
  }
});

test('a grant with a short key, extra fields or loose base64 is refused', () => {
  const json = encodeGrant(grant);
  assert.throws(
    () => decodeGrant(reader, { ...json, key: Buffer.alloc(16).toString('base64') }, 'g'),
    (e) => {
      return e instanceof CloisterError && e.code === 'COORDINATOR_ERROR' && e.path === 'g.key';
    },
  );
  assert.throws(() => decodeGrant(reader, { ...json, owner: 'root' }, 'g'), code('COORDINATOR_ERROR'));
  // Node would decode these, skipping what is not base64; the protocol has one spelling per byte string.
  for (const key of [`${String(json['key'])} `, String(json['key']).replace(/=+$/, ''), `*${String(json['key'])}`])
    assert.throws(() => decodeGrant(reader, { ...json, key }, 'g'), code('COORDINATOR_ERROR'), key);
});

test('an activation request with more than 64 names is refused', () => {
  const request = encodeActivationRequest({
    service: 'api',
    instanceId: 'i',
    nonce: new Uint8Array(32),
    evidence: new Uint8Array(1),
    publicKey: new Uint8Array(1),
  });
  const names = Array.from({ length: 65 }, (_, i) => `n${i}.example`);
  assert.throws(() => decodeActivationRequest({ ...request, dnsNames: names }), code('REQUEST_INVALID'));
  assert.throws(() => decodeActivationRequest({ ...request, dnsNames: 'api' }), code('REQUEST_INVALID'));
});

test('arbitrary JSON only ever gets the typed error from every decoder', () => {
  const decoders = [
    decodeActivationRequest,
    decodeActivationResponse,
    decodePayload,
    decodeCommit,
    decodeRegistration,
    (v: unknown) => decodeGrant(reader, v, 'g'),
  ];
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      for (const decode of decoders) {
        try {
          decode(value);
        } catch (e) {
          assert.ok(e instanceof CloisterError, String(e));
        }
      }
    }),
    { numRuns: 500 },
  );
});

test('the payload opens only with the workload key and nonce it was sealed to', () => {
  const workload = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(workload.publicKey.export({ format: 'der', type: 'spki' }));
  const pkcs8 = new Uint8Array(workload.privateKey.export({ format: 'der', type: 'pkcs8' }));
  const nonce = new Uint8Array(randomBytes(32));
  const payload: ActivationPayload = { secrets: {}, volumes: { data: grant } };
  const sealed = sealPayload(spki, nonce, payload);
  assert.deepEqual(plain(openPayload(pkcs8, nonce, sealed)), payload);
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const otherKey = new Uint8Array(other.privateKey.export({ format: 'der', type: 'pkcs8' }));
  assert.throws(() => openPayload(otherKey, nonce, sealed), code('COORDINATOR_ERROR'));
  assert.throws(() => openPayload(pkcs8, new Uint8Array(32), sealed), code('COORDINATOR_ERROR'));
  const flipped = Buffer.from(sealed.ciphertext, 'base64');
  flipped[0] = (flipped[0] ?? 0) ^ 1;
  assert.throws(
    () => openPayload(pkcs8, nonce, { ...sealed, ciphertext: flipped.toString('base64') }),
    code('COORDINATOR_ERROR'),
  );
});

test('only a P-256 workload key is taken', () => {
  for (const key of [
    generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey,
    generateKeyPairSync('ed25519').publicKey,
    generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
  ])
    assert.throws(
      () => workloadKey(new Uint8Array(key.export({ format: 'der', type: 'spki' }))),
      code('REQUEST_INVALID'),
    );
  assert.throws(() => workloadKey(new Uint8Array(10)), code('REQUEST_INVALID'));
});
