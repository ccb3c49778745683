import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { maaClaims, MAA_CLAIMS } from '../../../src/attest/maa/claims.js';
import { verifyMaaTokenSync } from '../../../src/attest/maa/verify.js';
import { checkPolicy } from '../../../src/attest/policy.js';
import { b64u, maaLikePayload, signJws, testKey, throwsCode } from './helpers.js';

/** Claim mapping (MAA "Claim sets", current and deprecated names) and the algorithms cloister accepts. */

const ISSUER = 'https://cloister.test.attest.example';
const NOW = 1_750_000_000;
const MRENCLAVE = 'ab'.repeat(32);
const MRSIGNER = 'cd'.repeat(32);

describe('MAA claims in cloister names', () => {
  test('the current x-ms-* names', () => {
    const { claims, tcbStatus, advisoryIds } = maaClaims(
      maaLikePayload(ISSUER, NOW, {
        'x-ms-policy-hash': b64u(Buffer.alloc(32, 1)),
        nonce: 'n-1',
        'x-ms-runtime': { keys: [1] },
        'x-ms-inittime': {},
      }),
    );
    assert.deepEqual(claims, {
      mrenclave: MRENCLAVE,
      mrsigner: MRSIGNER,
      isvProdId: 7,
      isvSvn: 3,
      debug: false,
      reportData: '42'.repeat(64),
      attestationType: 'sgx',
      policyHash: '01'.repeat(32),
      ver: '1.0',
      issuer: ISSUER,
      nonce: 'n-1',
      runtimeData: '{"keys":[1]}',
      initTimeData: '{}',
    });
    assert.equal(tcbStatus, 'UpToDate');
    assert.deepEqual(advisoryIds, []);
  });

  test('only the deprecated $-names (policy-engine names) and un-prefixed names (default policy issuance) still map', () => {
    const dollar = {
      '$is-debuggable': true,
      '$sgx-mrsigner': MRSIGNER,
      '$sgx-mrenclave': MRENCLAVE,
      '$product-id': 2,
      $svn: 5,
      $tee: 'sgx',
      'maa-ehd': b64u('hi'),
      ver: '1.0',
      'maa-policyHash': b64u(Buffer.alloc(2, 0xff)),
    };
    const plain = {
      'is-debuggable': true,
      'sgx-mrsigner': MRSIGNER,
      'sgx-mrenclave': MRENCLAVE,
      'product-id': 2,
      svn: 5,
      tee: 'sgx',
      'aas-ehd': b64u('hi'),
      policy_hash: b64u(Buffer.alloc(2, 0xff)),
    };
    const want = {
      debug: true,
      mrsigner: MRSIGNER,
      mrenclave: MRENCLAVE,
      isvProdId: 2,
      isvSvn: 5,
      attestationType: 'sgx',
      reportData: '6869',
      policyHash: 'ffff',
    };
    assert.deepEqual(maaClaims(dollar).claims, { ...want, ver: '1.0' });
    assert.deepEqual(maaClaims(plain).claims, want);
  });

  test('every alias of the table maps to its claim', () => {
    for (const [name, { from }] of Object.entries(MAA_CLAIMS)) {
      for (const source of from)
        assert.ok(Object.hasOwn(maaClaims({ [source]: sample(name) }).claims, name), `${source} → ${name}`);
    }
  });

  test('uppercase hex measurements come out lowercase', () => {
    assert.equal(maaClaims({ 'x-ms-sgx-mrenclave': MRENCLAVE.toUpperCase() }).claims['mrenclave'], MRENCLAVE);
  });

  test('aliases that disagree: TOKEN_MALFORMED (a custom policy cannot make sgx-mrenclave say something else)', () => {
    throwsCode(() => maaClaims({ 'x-ms-sgx-mrenclave': MRENCLAVE, 'sgx-mrenclave': MRSIGNER }), 'TOKEN_MALFORMED');
    throwsCode(() => maaClaims({ 'x-ms-sgx-is-debuggable': false, '$is-debuggable': true }), 'TOKEN_MALFORMED');
  });

  test('claims of the wrong type: TOKEN_MALFORMED naming the claim', () => {
    for (const [claim, value] of [
      ['x-ms-sgx-mrenclave', 'ab'],
      ['x-ms-sgx-mrsigner', 42],
      ['x-ms-sgx-svn', 70000],
      ['x-ms-sgx-product-id', '1'],
      ['x-ms-sgx-is-debuggable', 'false'],
      ['x-ms-sgx-ehd', 'not base64url!'],
      ['x-ms-runtime', '{"a":1}'],
      ['x-ms-sgx-tcb-status', 'Fine'],
      ['x-ms-sgx-advisory-ids', 'INTEL-SA-00615'],
      ['x-ms-sgx-advisory-ids', [1]],
    ] as const) {
      assert.equal(throwsCode(() => maaClaims({ [claim]: value }), 'TOKEN_MALFORMED').field, `payload.${claim}`);
    }
  });

  test("cloister's extension claims: TCB status and advisory IDs (issue 7's service)", () => {
    const v = maaClaims({
      'x-ms-sgx-tcb-status': 'SWHardeningNeeded',
      'x-ms-sgx-advisory-ids': ['INTEL-SA-00334', 'INTEL-SA-00615'],
    });
    assert.equal(v.tcbStatus, 'SWHardeningNeeded');
    assert.deepEqual(v.advisoryIds, ['INTEL-SA-00334', 'INTEL-SA-00615']);
  });

  test('a debuggable enclave verifies, and default policy refuses it', () => {
    const key = testKey('rsa2048');
    const token = signJws(
      { alg: 'RS256', kid: key.kid },
      maaLikePayload(ISSUER, NOW, { 'x-ms-sgx-is-debuggable': true }),
      key.privateKey,
    );
    const v = verifyMaaTokenSync(token, { now: NOW, jwks: { keys: [key.jwk] } });
    assert.equal(v.claims['debug'], true);
    throwsCode(() => checkPolicy(v), 'POLICY_VIOLATION');
    checkPolicy(v, { allowDebug: true });
  });
});

/** A valid value for each claim of the table. */
function sample(name: string): unknown {
  const values: Record<string, unknown> = {
    mrenclave: MRENCLAVE,
    mrsigner: MRSIGNER,
    isvProdId: 1,
    isvSvn: 1,
    debug: false,
    reportData: 'AA',
    policyHash: 'AA',
    runtimeData: {},
    initTimeData: {},
    measurement: 'ab'.repeat(48),
    hostData: MRSIGNER,
  };
  return Object.hasOwn(values, name) ? values[name] : 'text';
}

describe('MAA tokens signed with each allowed algorithm', () => {
  for (const [alg, kind] of [
    ['RS256', 'rsa2048'],
    ['PS256', 'rsa2048'],
    ['ES256', 'p256'],
  ] as const) {
    test(`${alg} with kid and jku (the shape of issue 7's tokens) verifies`, () => {
      const key = testKey(kind);
      const token = signJws(
        { alg, kid: key.kid, jku: `${ISSUER}/certs`, typ: 'JWT' },
        maaLikePayload(ISSUER, NOW),
        key.privateKey,
      );
      const v = verifyMaaTokenSync(token, { now: NOW, issuer: ISSUER, jwks: { keys: [testKey(kind).jwk, key.jwk] } });
      assert.equal(v.claims['mrenclave'], MRENCLAVE);
      assert.equal(v.collateralExpiry, NOW + 8 * 3600);
    });
  }

  test('RS256 with a 4096-bit key verifies; PS256 with a 1024-bit key is refused by default', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const big = generateKeyPairSync('rsa', { modulusLength: 4096 });
    const token = signJws({ alg: 'RS256', kid: 'big' }, maaLikePayload(ISSUER, NOW), big.privateKey);
    assert.equal(
      verifyMaaTokenSync(token, {
        now: NOW,
        jwks: { keys: [{ ...big.publicKey.export({ format: 'jwk' }), kid: 'big' }] },
      }).tee,
      'maa',
    );
    const small = testKey('rsa1024');
    const weak = signJws({ alg: 'PS256', kid: small.kid }, maaLikePayload(ISSUER, NOW), small.privateKey);
    throwsCode(() => verifyMaaTokenSync(weak, { now: NOW, jwks: { keys: [small.jwk] } }), 'TOKEN_KEY_REFUSED');
    assert.equal(verifyMaaTokenSync(weak, { now: NOW, minRsaBits: 1024, jwks: { keys: [small.jwk] } }).tee, 'maa');
  });
});
