import assert from 'node:assert/strict';
import { test } from 'node:test';

import { INTEL_ROOT_CA_CRL_URL, extractRawMember, fetchCollateral, pcsUrls } from '../../src/collateral/index.js';
import type { FetchCollateralOptions } from '../../src/collateral/index.js';
import {
  SGX_PLATFORM,
  SGX_PROCESSOR,
  TDX,
  at,
  clientOf,
  loadVector,
  replaceInBody,
  vectorsWithCollateral,
  withFake,
} from './fake-pcs.js';
import type { FakePcsOptions, FakeResponse } from './fake-pcs.js';

const SGX = { tee: 'sgx', fmspc: '00A067110000', ca: 'processor' } as const;

/** Fetches SGX_PROCESSOR's collateral from a plain-HTTP fake set up with `fake` and expects a CloisterError with `expected`'s properties. */
async function rejects(
  fake: Partial<FakePcsOptions>,
  expected: Record<string, unknown>,
  request: Partial<FetchCollateralOptions> = {},
): Promise<void> {
  await withFake({ vectors: [SGX_PROCESSOR], protocol: 'http', ...fake }, (pcs) =>
    assert.rejects(fetchCollateral({ ...SGX, ...clientOf(pcs), ...request }), { name: 'CloisterError', ...expected }),
  );
}

// Reproduction: fetching a vector's PCS-style files gives its collateral.json exactly.

test('SGX processor CA over HTTPS from a PCS reproduces collateral.json exactly', async () => {
  const v = await loadVector(SGX_PROCESSOR);
  await withFake({ vectors: [v.name] }, async (pcs) => {
    const c = await fetchCollateral({ ...SGX, ...clientOf(pcs) });
    assert.deepEqual(c, v.expected);
    // The signed text is the member exactly as served, never re-serialised.
    assert.equal(c.tcb_info, extractRawMember(v.tcbBody.toString('utf8'), 'tcbInfo'));
    assert.deepEqual([...pcs.requests].sort(), [
      '/IntelSGXRootCA.der',
      '/sgx/certification/v4/pckcrl?ca=processor&encoding=der',
      '/sgx/certification/v4/qe/identity',
      '/sgx/certification/v4/tcb?fmspc=00A067110000',
    ]);
  });
});

test('SGX platform CA from an older PCCS (SGX-TCB-Info-Issuer-Chain, hex CRLs, default rootcacrl path)', async () => {
  const v = await loadVector(SGX_PLATFORM);
  assert.equal(v.ca, 'platform');
  await withFake(
    { vectors: [v.name], protocol: 'http', flavor: 'pccs', rootCaCrlEncoding: 'hex', pckCrlEncoding: 'hex' },
    async (pcs) => {
      assert.deepEqual(await fetchCollateral({ tee: v.tee, fmspc: v.fmspc, ca: v.ca, baseUrl: pcs.url }), v.expected);
      assert.ok(pcs.requests.includes('/sgx/certification/v4/rootcacrl'));
    },
  );
});

test('TDX over HTTPS from a PCCS given QCNL-style (…/sgx/certification/v4/), PEM PCK CRL', async () => {
  const v = await loadVector(TDX);
  await withFake({ vectors: [v.name], flavor: 'pccs', pckCrlEncoding: 'pem' }, async (pcs) => {
    const { tlsCa } = clientOf(pcs);
    const c = await fetchCollateral({
      tee: 'tdx',
      fmspc: v.fmspc.toLowerCase(),
      ca: v.ca,
      baseUrl: `${pcs.url}/sgx/certification/v4/`,
      ...(tlsCa === undefined ? {} : { tlsCa }),
    });
    assert.deepEqual(c, v.expected);
    assert.deepEqual([...pcs.requests].sort(), [
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      '/sgx/certification/v4/rootcacrl',
      '/tdx/certification/v4/qe/identity',
      `/tdx/certification/v4/tcb?fmspc=${v.fmspc.toUpperCase()}`,
    ]);
  });
});

test('every vector with PCS-style files is reproduced exactly', async () => {
  const names = await vectorsWithCollateral();
  assert.ok(names.length >= 10, `only ${names.length} vectors found`);
  for (const name of names) {
    const v = await loadVector(name);
    await withFake({ vectors: [name], protocol: 'http' }, async (pcs) => {
      assert.deepEqual(
        await fetchCollateral({ tee: v.tee, fmspc: v.fmspc, ca: v.ca, ...clientOf(pcs) }),
        v.expected,
        name,
      );
    });
  }
});

test('a member among other whitespace and member order is still cut out byte for byte', async () => {
  const v = await loadVector(SGX_PROCESSOR);
  const raw = extractRawMember(v.tcbBody.toString('utf8'), 'tcbInfo');
  const signature = extractRawMember(v.tcbBody.toString('utf8'), 'signature');
  const body = Buffer.from(`\r\n{ "signature" :\t${signature} ,\n  "tcbInfo"  :  ${raw}\n}\n`);
  await withFake(
    { vectors: [v.name], protocol: 'http', override: at('/tcb', (r) => ({ ...r, body })) },
    async (pcs) => {
      assert.deepEqual(await fetchCollateral({ ...SGX, ...clientOf(pcs) }), v.expected);
    },
  );
});

// HTTP and TLS failures: COLLATERAL_FETCH_FAILED.

test('an FMSPC unknown to the PCS is COLLATERAL_FETCH_FAILED with status 404, URL and Request-ID', async () => {
  await withFake({ vectors: [SGX_PROCESSOR], protocol: 'http' }, async (pcs) => {
    await assert.rejects(fetchCollateral({ ...SGX, fmspc: 'FFFFFFFFFFFF', ...clientOf(pcs) }), {
      code: 'COLLATERAL_FETCH_FAILED',
      status: 404,
      url: `${pcs.url}/sgx/certification/v4/tcb?fmspc=FFFFFFFFFFFF`,
      message: /Request-ID: [0-9a-f]{32}/,
    });
  });
});

test('a 400 names the Error-Code and Error-Message headers', async () => {
  const reply: FakeResponse = {
    status: 400,
    headers: { 'Error-Code': 'InvalidParameter', 'Error-Message': 'bad\tthing' },
    body: Buffer.alloc(0),
  };
  await rejects(
    { override: at('/qe/identity', () => reply) },
    { code: 'COLLATERAL_FETCH_FAILED', status: 400, message: /Error-Code: InvalidParameter, Error-Message: bad thing/ },
  );
});

test('a self-signed PCCS certificate is refused unless trusted (tlsCa) or verification is off', async () => {
  const v = await loadVector(SGX_PROCESSOR);
  await withFake({ vectors: [v.name] }, async (pcs) => {
    const untrusted = { ...SGX, baseUrl: pcs.url, rootCaCrlUrl: pcs.rootCaCrlUrl };
    await assert.rejects(fetchCollateral(untrusted), { code: 'COLLATERAL_FETCH_FAILED', status: undefined });
    assert.deepEqual(await fetchCollateral({ ...untrusted, rejectUnauthorized: false }), v.expected);
  });
});

test('the API key is sent as Ocp-Apim-Subscription-Key, and only to the base URL origin', async () => {
  const v = await loadVector(SGX_PROCESSOR);
  const seenByOther: unknown[] = [];
  const spy: NonNullable<FakePcsOptions['override']> = (req, next) => {
    seenByOther.push(req.headers['ocp-apim-subscription-key']);
    return next();
  };
  await withFake({ vectors: [v.name], protocol: 'http', requireApiKey: 'key-123' }, (pcs) =>
    withFake({ vectors: [v.name], protocol: 'http', override: spy }, async (other) => {
      const request = { ...SGX, baseUrl: pcs.url, rootCaCrlUrl: other.rootCaCrlUrl };
      await assert.rejects(fetchCollateral(request), { code: 'COLLATERAL_FETCH_FAILED', status: 401 });
      assert.deepEqual(await fetchCollateral({ ...request, apiKey: 'key-123' }), v.expected);
    }),
  );
  assert.deepEqual(seenByOther, [undefined, undefined]);
});

test('a server that does not answer in time is COLLATERAL_FETCH_FAILED', async () => {
  await rejects(
    { override: at('/tcb', (r) => ({ ...r, hang: true })) },
    { code: 'COLLATERAL_FETCH_FAILED', message: /within 200 ms/ },
    { timeoutMs: 200 },
  );
});

test('an fmspc that is not 6 bytes of hex is refused before any request', async () => {
  for (const fmspc of ['00A0671100', '../../etc/pa']) {
    await assert.rejects(fetchCollateral({ ...SGX, fmspc, baseUrl: 'http://127.0.0.1:9' }), {
      code: 'COLLATERAL_FETCH_FAILED',
      field: 'fmspc',
    });
  }
});

// Unusable 200 answers: COLLATERAL_RESPONSE_INVALID, never cached (see cache.test.ts).

const huge = Buffer.alloc(2 * 1024 * 1024 + 1, 0x20);
const header =
  (name: string, value?: string) =>
  (r: FakeResponse): FakeResponse => {
    const headers = { ...r.headers };
    if (value === undefined) delete headers[name];
    else headers[name] = value;
    return { ...r, headers };
  };
const INVALID: Array<
  [
    what: string,
    path: string,
    change: (r: FakeResponse) => FakeResponse,
    expected: Record<string, unknown>,
    request?: Partial<FetchCollateralOptions>,
  ]
> = [
  ['broken JSON', '/tcb', (r) => ({ ...r, body: r.body.subarray(0, -1) }), { field: 'tcbInfo' }],
  [
    'a body that is not UTF-8',
    '/tcb',
    (r) => ({ ...r, body: Buffer.concat([r.body.subarray(0, 20), Buffer.from([0xff]), r.body.subarray(20)]) }),
    { field: 'tcbInfo' },
  ],
  [
    'a body without the signed member',
    '/qe/identity',
    replaceInBody('"enclaveIdentity"', '"identity"'),
    { field: 'enclaveIdentity' },
  ],
  ['a body without the signature', '/tcb', replaceInBody('"signature"', '"sig"'), { field: 'signature' }],
  [
    'TCB info without nextUpdate',
    '/tcb',
    replaceInBody('"nextUpdate"', '"nextUpdat"'),
    { field: 'tcbInfo.nextUpdate' },
  ],
  [
    'TCB info for another FMSPC',
    '/tcb',
    replaceInBody('"fmspc":"00A067110000"', '"fmspc":"00A067110001"'),
    { field: 'tcbInfo.fmspc' },
  ],
  ['a missing TCB-Info-Issuer-Chain', '/tcb', header('TCB-Info-Issuer-Chain'), { field: 'TCB-Info-Issuer-Chain' }],
  [
    'a missing SGX-Enclave-Identity-Issuer-Chain',
    '/qe/identity',
    header('SGX-Enclave-Identity-Issuer-Chain'),
    { field: 'SGX-Enclave-Identity-Issuer-Chain' },
  ],
  [
    'a missing SGX-PCK-CRL-Issuer-Chain',
    '/pckcrl',
    header('SGX-PCK-CRL-Issuer-Chain'),
    { field: 'SGX-PCK-CRL-Issuer-Chain' },
  ],
  [
    'an issuer chain that is not URL-encoded',
    '/pckcrl',
    header('SGX-PCK-CRL-Issuer-Chain', '%E0%A4%A'),
    { field: 'SGX-PCK-CRL-Issuer-Chain' },
  ],
  [
    'an issuer chain that is not PEM',
    '/pckcrl',
    header('SGX-PCK-CRL-Issuer-Chain', 'not%20a%20certificate'),
    { field: 'SGX-PCK-CRL-Issuer-Chain' },
  ],
  [
    'a PCK CRL body that is no CRL',
    '/pckcrl',
    (r) => ({ ...r, body: Buffer.from('<html>maintenance</html>') }),
    { field: 'pck_crl' },
  ],
  ['a truncated root CA CRL', '.der', (r) => ({ ...r, body: r.body.subarray(0, -3) }), { field: 'root_ca_crl' }],
  [
    'an oversize body with Content-Length',
    '/tcb',
    (r) => ({ ...r, body: huge }),
    { message: /exceeds the limit of 1048576 bytes/ },
  ],
  [
    'an oversize body, streamed',
    '/tcb',
    (r) => ({ ...r, chunked: true }),
    { message: /exceeds the limit of 1000 bytes/ },
    { maxResponseBytes: 1000 },
  ],
];
for (const [what, path, change, expected, request] of INVALID) {
  test(`${what} is COLLATERAL_RESPONSE_INVALID`, () =>
    rejects(
      { override: at(path, change) },
      { code: 'COLLATERAL_RESPONSE_INVALID', status: 200, ...expected },
      request,
    ));
}

test('TCB info or QE identity of the other TEE is COLLATERAL_RESPONSE_INVALID', async () => {
  const served =
    (from: string, to: string): NonNullable<FakePcsOptions['override']> =>
    (req, next) => {
      if (req.path.startsWith(from)) req.path = req.path.replace(from, to);
      return next();
    };
  // A TDX request answered with SGX TCB info; an SGX request answered with the TDX QE identity.
  const vectors = [SGX_PROCESSOR, TDX];
  await rejects(
    { vectors, override: served('/tdx/certification/v4/tcb', '/sgx/certification/v4/tcb') },
    { code: 'COLLATERAL_RESPONSE_INVALID', field: 'tcbInfo.id' },
    { tee: 'tdx' },
  );
  await rejects(
    { vectors, override: served('/sgx/certification/v4/qe', '/tdx/certification/v4/qe') },
    { code: 'COLLATERAL_RESPONSE_INVALID', field: 'enclaveIdentity.id' },
  );
});

test('pcsUrls follows the PCS v4 paths and the root CA CRL default', () => {
  const intel = pcsUrls({ ...SGX, fmspc: '00a067110000' });
  assert.deepEqual(intel, {
    tcbInfo: 'https://api.trustedservices.intel.com/sgx/certification/v4/tcb?fmspc=00A067110000',
    qeIdentity: 'https://api.trustedservices.intel.com/sgx/certification/v4/qe/identity',
    pckCrl: 'https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der',
    rootCaCrl: INTEL_ROOT_CA_CRL_URL,
  });
  assert.deepEqual(
    pcsUrls(
      { tee: 'tdx', fmspc: '00806F050000', ca: 'platform' },
      { baseUrl: 'https://pccs.example:8081/tdx/certification/v4' },
    ),
    {
      tcbInfo: 'https://pccs.example:8081/tdx/certification/v4/tcb?fmspc=00806F050000',
      qeIdentity: 'https://pccs.example:8081/tdx/certification/v4/qe/identity',
      pckCrl: 'https://pccs.example:8081/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      rootCaCrl: 'https://pccs.example:8081/sgx/certification/v4/rootcacrl',
    },
  );
  assert.equal(
    pcsUrls(SGX, { baseUrl: 'http://proxy.example/pcs//' }).tcbInfo,
    'http://proxy.example/pcs/sgx/certification/v4/tcb?fmspc=00A067110000',
  );
  assert.equal(
    pcsUrls(SGX, { rootCaCrlUrl: 'https://mirror.example/root.crl' }).rootCaCrl,
    'https://mirror.example/root.crl',
  );
});
