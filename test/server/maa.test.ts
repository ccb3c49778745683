import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { DcapVerifier, SnpVerifier, parseJwks, verifyMaaTokenSync } from '../../src/attest/index.js';
import { fixedCollateral } from '../../src/attestation-service/index.js';
import {
  SNP_VECTOR,
  serve,
  snpReportMember,
  vectorFile,
  vectorJson,
  type Running,
} from '../attestation-service/helpers.js';

/** The MAA data-plane API over HTTPS, without the SDK: paths, api-versions, SevSnpVm bodies, MAA's error shape. */

interface Answer {
  status: number;
  type: string | undefined;
  allow: string | undefined;
  body: Record<string, unknown>;
}

function request(r: Running, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${r.instance}${path}`,
      { method, agent: r.agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            allow: res.headers['allow'],
            body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const SNP = SNP_VECTOR;
const b64u = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');

describe('the MAA API', () => {
  const at = vectorJson<{ verify_at_unix: number }>(`${SNP}/expected.json`).verify_at_unix;
  const expected = vectorJson<{
    report: { measurement: string; host_data: string; report_data: string; vmpl: number };
  }>(`${SNP}/expected.json`).report;
  let r: Running;
  before(async () => {
    const dcap = new DcapVerifier();
    r = await serve({ now: () => at, policy: {}, dcap, collateral: fixedCollateral(dcap, []) });
  });
  after(() => r.close());

  test('GET /certs: a key set of RSA keys with x5c, as application/json', async () => {
    const a = await request(r, 'GET', '/certs');
    assert.equal(a.status, 200);
    assert.equal(a.type, 'application/json');
    const keys = a.body['keys'] as Array<Record<string, unknown>>;
    assert.equal(keys.length, 1);
    assert.deepEqual(
      [keys[0]?.['kty'], keys[0]?.['kid'], (keys[0]?.['x5c'] as string[]).length],
      ['RSA', r.service.signingKey.kid, 1],
    );
    assert.deepEqual(parseJwks(a.body).kids, [r.service.signingKey.kid]);
  });

  test('GET /.well-known/openid-configuration names the issuer and /certs', async () => {
    const a = await request(r, 'GET', '/.well-known/openid-configuration');
    assert.deepEqual([a.status, a.body['issuer'], a.body['jwks_uri']], [200, r.instance, `${r.instance}/certs`]);
  });

  test('POST /attest/SevSnpVm: a real Genoa report with its VCEK chain (api-version 2022-08-01)', async () => {
    const a = await request(
      r,
      'POST',
      '/attest/SevSnpVm?api-version=2022-08-01',
      JSON.stringify({ report: snpReportMember(), nonce: 'n-1' }),
    );
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const token = String(a.body['token']);
    const verdict = verifyMaaTokenSync(token, { jwks: parseJwks(r.service.jwks()), now: at, issuer: r.instance });
    assert.equal(verdict.claims['nonce'], 'n-1');
    const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(payload['x-ms-attestation-type'], 'sevsnpvm');
    assert.equal(payload['x-ms-sevsnpvm-launchmeasurement'], expected.measurement);
    assert.equal(payload['x-ms-sevsnpvm-reportdata'], expected.report_data);
    assert.equal(payload['x-ms-sevsnpvm-vmpl'], expected.vmpl);
    assert.equal(payload['x-ms-sgx-mrenclave'], undefined);
    // The same report verified directly gives the same claims the token carries.
    assert.equal(
      new SnpVerifier().verify(
        new Uint8Array(vectorFile(`${SNP}/report.bin`)),
        { vcek: new Uint8Array(vectorFile(`${SNP}/vcek.der`)), ask: vectorFile(`${SNP}/ask.pem`).toString('latin1') },
        { now: at },
      ).claims['measurement'],
      expected.measurement,
    );
  });

  test('SevSnpVm refusals: runtime data not in the report data, a changed report', async () => {
    const bound = await request(
      r,
      'POST',
      '/attest/SevSnpVm?api-version=2022-08-01',
      JSON.stringify({ report: snpReportMember(), runtimeData: { data: b64u('{}'), dataType: 'JSON' } }),
    );
    assert.deepEqual(
      [bound.status, (bound.body['error'] as Record<string, unknown>)['code']],
      [400, 'RUNTIME_DATA_MISMATCH'],
    );
    const report = new Uint8Array(vectorFile(`${SNP}/report.bin`));
    report[0x90] = (report[0x90] as number) ^ 1; // MEASUREMENT, signed
    const changed = await request(
      r,
      'POST',
      '/attest/SevSnpVm?api-version=2022-08-01',
      JSON.stringify({ report: snpReportMember(report) }),
    );
    assert.deepEqual(
      [changed.status, (changed.body['error'] as Record<string, unknown>)['code']],
      [400, 'SNP_SIGNATURE_INVALID'],
    );
  });

  const refusals: Array<[string, string, string | undefined, number, string]> = [
    ['no api-version', '/attest/SgxEnclave', '{}', 400, 'API_VERSION_UNSUPPORTED'],
    [
      'an unknown api-version',
      '/attest/SgxEnclave?api-version=2018-09-01-preview',
      '{}',
      400,
      'API_VERSION_UNSUPPORTED',
    ],
    ['a body that is not JSON', '/attest/SgxEnclave?api-version=2020-10-01', 'quote=', 400, 'REQUEST_INVALID'],
    ['no quote', '/attest/SgxEnclave?api-version=2020-10-01', '{}', 400, 'REQUEST_INVALID'],
    [
      'a quote that is not base64url',
      '/attest/SgxEnclave?api-version=2020-10-01',
      '{"quote":"a+b/"}',
      400,
      'REQUEST_INVALID',
    ],
    [
      'an unknown dataType',
      '/attest/SgxEnclave?api-version=2020-10-01',
      '{"quote":"AAAA","runtimeData":{"data":"AA","dataType":"Text"}}',
      400,
      'REQUEST_INVALID',
    ],
    [
      'JSON data that is not JSON',
      '/attest/OpenEnclave?api-version=2020-10-01',
      '{"report":"AAAA","runtimeData":{"data":"AA","dataType":"JSON"}}',
      400,
      'REQUEST_INVALID',
    ],
    [
      'a draft policy',
      '/attest/SgxEnclave?api-version=2020-10-01',
      '{"quote":"AAAA","draftPolicyForAttestation":"version=1.0;"}',
      400,
      'REQUEST_INVALID',
    ],
    ['a truncated quote', '/attest/SgxEnclave?api-version=2020-10-01', '{"quote":"AwACAAAA"}', 400, 'QUOTE_TRUNCATED'],
    [
      'an Open Enclave report of another type',
      '/attest/OpenEnclave?api-version=2020-10-01',
      `{"report":"${b64u(Buffer.from('0100000001000000000000000000000000', 'hex'))}"}`,
      400,
      'QUOTE_UNSUPPORTED_BODY',
    ],
    [
      'SevSnpVm evidence that is not JSON',
      '/attest/SevSnpVm?api-version=2022-08-01',
      '{"report":"AAAA"}',
      400,
      'REQUEST_INVALID',
    ],
    ['an unknown path', '/attest/Tpm?api-version=2020-10-01', '{}', 404, 'NOT_FOUND'],
    [
      'a body over 1 MiB',
      '/attest/SgxEnclave?api-version=2020-10-01',
      `{"quote":"${'A'.repeat(1 << 20)}"}`,
      413,
      'REQUEST_TOO_LARGE',
    ],
  ];
  test("another method on an attestation path: 405 METHOD_NOT_ALLOWED in MAA's shape, Allow: POST", async () => {
    const a = await request(r, 'GET', '/attest/SgxEnclave?api-version=2020-10-01');
    assert.deepEqual([a.status, a.type, a.allow], [405, 'application/json', 'POST']);
    assert.equal((a.body['error'] as Record<string, unknown>)['code'], 'METHOD_NOT_ALLOWED');
  });

  for (const [what, path, body, status, code] of refusals) {
    test(`${what}: ${status} {"error":{"code":"${code}"}}`, async () => {
      const a = await request(r, 'POST', path, body);
      assert.equal(a.status, status);
      assert.equal(a.type, 'application/json');
      const error = a.body['error'] as Record<string, unknown>;
      assert.deepEqual(Object.keys(a.body), ['error']);
      assert.equal(error['code'], code, String(error['message']));
      assert.equal(typeof error['message'], 'string');
    });
  }
});
