import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { maaClaims, parseJwks, verifyMaaTokenSync, type Verdict } from '../../src/attest/index.js';
import {
  createSigningKey,
  jwks,
  policyHash,
  signToken,
  tokenPayload,
  DEPRECATED_ALIASES,
  type TokenInput,
} from '../../src/attestation-service/index.js';

/** The token: MAA's claim names and aliases, the data claims, the policy hash, an RS256 signature cloister's own verifier accepts. */

const NOW = 1_800_000_000;
const instance = 'https://attest.example';
const verdict: Verdict = {
  tee: 'sgx',
  tcbStatus: 'SWHardeningNeeded',
  advisoryIds: ['INTEL-SA-00615'],
  claims: {
    mrenclave: 'ab'.repeat(32),
    mrsigner: 'cd'.repeat(32),
    isvProdId: 7,
    isvSvn: 3,
    debug: false,
    configId: '00'.repeat(64),
    reportData: '11'.repeat(64),
  },
  collateralExpiry: NOW + 1000,
  simulation: false,
  trailingBytes: 0,
};
const input = (o: Partial<TokenInput> = {}): TokenInput => ({
  instance,
  now: NOW,
  lifetime: 8 * 3600,
  policyHash: policyHash('{}'),
  nonce: undefined,
  runtimeData: undefined,
  initTimeData: undefined,
  collateral: { quotehash: '00' },
  ...o,
});

test('x-ms-policy-hash is BASE64URL(SHA256(UTF8(BASE64URL(UTF8(policy)))))', () => {
  const inner = Buffer.from('{"allowDebug":false}', 'utf8').toString('base64url');
  assert.equal(policyHash('{"allowDebug":false}'), createHash('sha256').update(inner, 'utf8').digest('base64url'));
});

test('an SGX payload: MAA claims, every deprecated alias equal to its claim, the extension claims', () => {
  const data = new Uint8Array([1, 2, 3]);
  const p = tokenPayload('sgx', verdict, input({ nonce: 'n', runtimeData: { bytes: data, json: undefined } }));
  assert.deepEqual(
    [p['iss'], p['iat'], p['nbf'], p['exp'], p['nonce'], p['x-ms-ver'], p['x-ms-attestation-type']],
    [instance, NOW, NOW, NOW + 8 * 3600, 'n', '1.0', 'sgx'],
  );
  assert.match(String(p['jti']), /^[0-9a-f]{64}$/);
  assert.deepEqual(
    [p['x-ms-sgx-mrenclave'], p['x-ms-sgx-product-id'], p['x-ms-sgx-svn'], p['x-ms-sgx-is-debuggable']],
    ['ab'.repeat(32), 7, 3, false],
  );
  assert.equal(p['x-ms-sgx-ehd'], 'AQID');
  for (const [alias, source] of Object.entries(DEPRECATED_ALIASES)) assert.deepEqual(p[alias], p[source], alias);
  assert.deepEqual([p['x-ms-sgx-tcb-status'], p['x-ms-sgx-advisory-ids']], ['SWHardeningNeeded', ['INTEL-SA-00615']]);
  const read = maaClaims(p);
  assert.deepEqual(
    [read.claims['mrenclave'], read.claims['reportData'], read.tcbStatus, read.advisoryIds],
    ['ab'.repeat(32), '010203', 'SWHardeningNeeded', ['INTEL-SA-00615']],
  );
});

test('JSON runtime and init-time data become x-ms-runtime and x-ms-inittime, without enclave held data', () => {
  const p = tokenPayload(
    'sgx',
    verdict,
    input({
      runtimeData: { bytes: new Uint8Array(), json: { a: 1 } },
      initTimeData: { bytes: new Uint8Array(), json: { b: 2 } },
    }),
  );
  assert.deepEqual(
    [p['x-ms-runtime'], p['x-ms-inittime'], p['x-ms-sgx-ehd'], p['maa-ehd']],
    [{ a: 1 }, { b: 2 }, undefined, undefined],
  );
});

test('an SNP payload carries x-ms-sevsnpvm-* claims and no SGX alias', () => {
  const snp: Verdict = {
    ...verdict,
    tee: 'snp',
    claims: {
      measurement: 'ee'.repeat(48),
      hostData: '00'.repeat(32),
      vmpl: 0,
      debug: false,
      reportedTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
    },
  };
  const p = tokenPayload('snp', snp, input({ collateral: undefined }));
  assert.deepEqual(
    [
      p['x-ms-attestation-type'],
      p['x-ms-sevsnpvm-launchmeasurement'],
      p['x-ms-sevsnpvm-microcode-svn'],
      p['x-ms-sevsnpvm-vmpl'],
    ],
    ['sevsnpvm', 'ee'.repeat(48), 115, 0],
  );
  assert.deepEqual(
    [p['tee'], p['is-debuggable'], p['x-ms-sgx-collateral'], p['ver']],
    [undefined, undefined, undefined, '1.0'],
  );
  // What cloister's MAA verifier reads back (attest verify --tee maa, policies on `measurement`).
  const read = maaClaims(p).claims;
  assert.deepEqual(
    [read['measurement'], read['hostData'], read['debug'], read['attestationType']],
    ['ee'.repeat(48), '00'.repeat(32), false, 'sevsnpvm'],
  );
});

test("signed with RS256, kid and jku: cloister's MAA verifier accepts it and pins the issuer", async () => {
  const key = await createSigningKey(instance, NOW);
  const token = await signToken(tokenPayload('sgx', verdict, input()), key, `${instance}/certs`);
  const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()) as Record<
    string,
    unknown
  >;
  assert.deepEqual(header, { alg: 'RS256', jku: `${instance}/certs`, kid: key.kid, typ: 'JWT' });
  const keys = parseJwks(jwks([key]));
  assert.equal(verifyMaaTokenSync(token, { jwks: keys, now: NOW + 60, issuer: instance }).claims['isvSvn'], 3);
  assert.throws(
    () => verifyMaaTokenSync(token, { jwks: keys, now: NOW + 60, issuer: 'https://other.example' }),
    /TOKEN_ISSUER_MISMATCH|payload\.iss/,
  );
  assert.throws(() => verifyMaaTokenSync(token, { jwks: keys, now: NOW + 8 * 3600, issuer: instance }), /expired/);
});
