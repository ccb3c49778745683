import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { checkPolicy } from '../../../src/attest/policy.js';
import { parseJwks } from '../../../src/attest/maa/jwks.js';
import { verifyMaaToken, verifyMaaTokenSync } from '../../../src/attest/maa/verify.js';
import {
  DECODED,
  EXPECTED,
  JWKS,
  SIGNING_KEY_PEM,
  TOKEN,
  VECTOR_OPTIONS,
  certificateFor,
  jwks,
  throwsCode,
} from './helpers.js';

/** The real MAA token of May 2021 (shared West-US instance), against its recorded signing key. */

const want = EXPECTED.expected.claims;

/** The vector's expected claims in cloister's names (`expected.json`, mapped by MAA_CLAIMS). */
const MAPPED = {
  mrenclave: want['x-ms-sgx-mrenclave'],
  mrsigner: want['x-ms-sgx-mrsigner'],
  isvProdId: want['x-ms-sgx-product-id'],
  isvSvn: want['x-ms-sgx-svn'],
  debug: want['x-ms-sgx-is-debuggable'],
  attestationType: want['x-ms-attestation-type'],
  policyHash: Buffer.from(String(want['x-ms-policy-hash']), 'base64url').toString('hex'),
  ver: want['x-ms-ver'],
  issuer: EXPECTED.issuer,
  runtimeData: JSON.stringify({ jwk: EXPECTED.expected.runtime_jwk }),
};

describe('MAA vector sharedwus-sgx-token-2021', () => {
  test('verifies at its time with minRsaBits 1024, with exactly the expected claims', () => {
    const v = verifyMaaTokenSync(TOKEN, { ...VECTOR_OPTIONS, jwks: JWKS });
    assert.deepEqual(v, {
      tee: 'maa',
      tcbStatus: 'UpToDate',
      advisoryIds: [],
      claims: MAPPED,
      collateralExpiry: EXPECTED.exp,
      simulation: false,
      trailingBytes: 0,
    });
    assert.equal(v.claims['policyHash'], '6d13ab37cf7b65f5a6598d95d052d496edeec24e716ad1a72981e7df305b4a5c');
  });

  test('the header is what decoded.json says and the claims are what the payload says', () => {
    const [h, p] = TOKEN.split('.') as [string, string];
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), DECODED.header);
    assert.deepEqual(JSON.parse(Buffer.from(p, 'base64url').toString()), DECODED.payload);
    assert.equal(DECODED.header['kid'], EXPECTED.kid);
  });

  test('verifies everywhere inside nbf..exp: at nbf, an hour in, one second before exp', () => {
    for (const now of [EXPECTED.nbf, EXPECTED.nbf + 3600, EXPECTED.exp - 1, EXPECTED.exp - 0.001]) {
      assert.equal(
        verifyMaaTokenSync(TOKEN, { ...VECTOR_OPTIONS, now, jwks: JWKS }).claims['mrenclave'],
        MAPPED.mrenclave,
        `at ${now}`,
      );
    }
  });

  test('is refused with the default minimum RSA size (2048): TOKEN_KEY_REFUSED', () => {
    const e = throwsCode(
      () => verifyMaaTokenSync(TOKEN, { now: EXPECTED.verify_at_unix, jwks: JWKS }),
      'TOKEN_KEY_REFUSED',
    );
    assert.equal(e.expected, 2048);
    assert.equal(e.actual, 1024);
  });

  test('a minimum below 1024 bits is a usage error, not a way to accept weaker keys', () => {
    throwsCode(() => verifyMaaTokenSync(TOKEN, { ...VECTOR_OPTIONS, minRsaBits: 512, jwks: JWKS }), 'USAGE');
  });

  test('the async entry point gives the same verdict from an offline key set', async () => {
    assert.deepEqual(
      await verifyMaaToken(TOKEN, { ...VECTOR_OPTIONS, jwks: JWKS }),
      verifyMaaTokenSync(TOKEN, { ...VECTOR_OPTIONS, jwks: JWKS }),
    );
  });

  test('the key set parsed once serves many verifications', () => {
    const keys = parseJwks(JWKS);
    assert.deepEqual(keys.kids, [EXPECTED.kid]);
    for (let i = 0; i < 3; i++) assert.equal(verifyMaaTokenSync(TOKEN, { ...VECTOR_OPTIONS, jwks: keys }).tee, 'maa');
  });

  test('jwks.json holds the key of signing-key.pem', () => {
    const fromPem = createPublicKey(SIGNING_KEY_PEM).export({ format: 'jwk' });
    const [key] = JWKS.keys;
    assert.deepEqual({ n: key?.['n'], e: key?.['e'] }, { n: fromPem.n, e: fromPem.e });
  });

  test('a key set in /certs form (x5c only, like MAA serves it) verifies the token', async () => {
    const cert = await certificateFor(createPublicKey(SIGNING_KEY_PEM), `CN=${EXPECTED.issuer}`);
    const certsForm = { keys: [{ kid: EXPECTED.kid, kty: 'RSA', x5c: [cert.toString('base64')] }] };
    assert.deepEqual(verifyMaaTokenSync(TOKEN, { ...VECTOR_OPTIONS, jwks: certsForm }).claims, MAPPED);
    const both = jwks();
    (both.keys[0] as Record<string, unknown>)['x5c'] = [cert.toString('base64')];
    assert.deepEqual(verifyMaaTokenSync(TOKEN, { ...VECTOR_OPTIONS, jwks: both }).claims, MAPPED);
  });

  test('a policy judges the verdict like any other (expected measurement, no debug)', () => {
    const v = verifyMaaTokenSync(TOKEN, { ...VECTOR_OPTIONS, jwks: JWKS });
    checkPolicy(v, {
      expected: { mrenclave: String(MAPPED.mrenclave).toUpperCase(), isvProdId: 1 },
      minimum: { isvSvn: 1 },
    });
    throwsCode(() => checkPolicy(v, { minimum: { isvSvn: 2 } }), 'POLICY_VIOLATION');
  });
});
