import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CloisterError } from '../../src/lib/errors.js';
import { openEnclaveQuote, parseAttestRequest, snpEvidence } from '../../src/attestation-service/index.js';
import { pemCert } from '../../src/pki/index.js';
import { throwsCode } from '../attest/dcap/helpers.js';
import { openEnclaveReport, vectorFile } from './helpers.js';

/** MAA request bodies, Open Enclave reports and SevSnpVm evidence: what is read, and what is refused. */

const b64u = (b: Uint8Array | string | number[]) => Buffer.from(b as Uint8Array).toString('base64url');

test('a full SgxEnclave body: quote, binary runtime data, JSON init-time data, nonce', () => {
  const r = parseAttestRequest(
    {
      quote: b64u('quote'),
      runtimeData: { data: b64u([1, 2]), dataType: 'Binary' },
      initTimeData: { data: b64u('{"a":[1]}'), dataType: 'JSON' },
      nonce: 'n',
    },
    'quote',
  );
  assert.deepEqual(Buffer.from(r.evidence).toString(), 'quote');
  assert.deepEqual([...(r.runtimeData?.bytes ?? [])], [1, 2]);
  assert.equal(r.runtimeData?.json, undefined);
  assert.deepEqual(r.initTimeData?.json, { a: [1] });
  assert.equal(r.nonce, 'n');
});

test('padding is tolerated, an absent dataType is Binary, null members are absent', () => {
  const r = parseAttestRequest(
    { report: 'AQ==', runtimeData: { data: 'AQI=' }, initTimeData: null, nonce: null, draftPolicyForAttestation: null },
    'report',
  );
  assert.deepEqual(
    [[...r.evidence], [...(r.runtimeData?.bytes ?? [])], r.initTimeData, r.nonce],
    [[1], [1, 2], undefined, undefined],
  );
});

test('each malformed member is REQUEST_INVALID naming its JSON path', () => {
  const cases: Array<[unknown, string]> = [
    [[], 'body'],
    [{}, 'body.quote'],
    [{ quote: 'a+b' }, 'body.quote'],
    [{ quote: 'AA', runtimeData: 'AA' }, 'body.runtimeData'],
    [{ quote: 'AA', runtimeData: { data: 'AA', dataType: 'binary' } }, 'body.runtimeData.dataType'],
    [{ quote: 'AA', initTimeData: { data: b64u('[1]'), dataType: 'JSON' } }, 'body.initTimeData.data'],
    [{ quote: 'AA', runtimeData: { data: b64u([0xff]), dataType: 'JSON' } }, 'body.runtimeData.data'],
    [{ quote: 'AA', nonce: 5 }, 'body.nonce'],
    [{ quote: 'AA', draftPolicyForAttestation: 'version=1.0;' }, 'body.draftPolicyForAttestation'],
  ];
  for (const [body, path] of cases)
    assert.equal(
      throwsCode(() => parseAttestRequest(body, 'quote'), 'REQUEST_INVALID').path,
      path,
      JSON.stringify(body),
    );
});

test('an Open Enclave report: the 16-byte header, then exactly the quote', () => {
  const quote = new Uint8Array([1, 2, 3, 4, 5]);
  assert.deepEqual([...openEnclaveQuote(openEnclaveReport(quote))], [1, 2, 3, 4, 5]);
  const report = openEnclaveReport(quote);
  throwsCode(() => openEnclaveQuote(report.subarray(0, 20)), 'QUOTE_TRUNCATED', 'oeReport.quote');
  throwsCode(() => openEnclaveQuote(new Uint8Array([...report, 0])), 'QUOTE_TRAILING_BYTES');
  throwsCode(() => openEnclaveQuote(report.subarray(0, 10)), 'QUOTE_TRUNCATED', 'oeHeader.reportSize');
  const version = new Uint8Array(report);
  version[0] = 2;
  throwsCode(() => openEnclaveQuote(version), 'QUOTE_UNSUPPORTED_VERSION', 'oeHeader.version');
  const local = new Uint8Array(report);
  local[4] = 1;
  throwsCode(() => openEnclaveQuote(local), 'QUOTE_UNSUPPORTED_BODY', 'oeHeader.reportType');
  const huge = new Uint8Array(report);
  huge[12] = 1; // a 64-bit size beyond 2^32: never allocated, refused as truncated
  throwsCode(() => openEnclaveQuote(huge), 'QUOTE_TRUNCATED');
});

test('SevSnpVm evidence: the report and the VCEK, ASK, ARK chain', () => {
  const dir = 'snp/trustee-azure-genoa-vcek';
  const vcek = new Uint8Array(vectorFile(`${dir}/vcek.der`));
  const chain =
    pemCert(vcek) + vectorFile(`${dir}/ask.pem`).toString('latin1') + vectorFile(`${dir}/ark.pem`).toString('latin1');
  const { report, certs } = snpEvidence(
    Buffer.from(JSON.stringify({ SnpReport: b64u([9, 9]), VcekCertChain: b64u(chain), Endorsements: 'ignored' })),
  );
  assert.deepEqual([...report], [9, 9]);
  assert.deepEqual(Buffer.from(certs.vcek ?? []), Buffer.from(vcek));
  assert.match(certs.ask ?? '', /^-----BEGIN CERTIFICATE-----/);
  assert.match(certs.ark ?? '', /^-----BEGIN CERTIFICATE-----/);
  throwsCode(() => snpEvidence(Buffer.from('not json')), 'REQUEST_INVALID');
  throwsCode(
    () => snpEvidence(Buffer.from(JSON.stringify({ SnpReport: 'AA', VcekCertChain: b64u('') }))),
    ['REQUEST_INVALID', 'PEM_MALFORMED'],
  );
});

test('arbitrary bytes and JSON only ever throw the typed errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        openEnclaveQuote(bytes);
      } catch (e) {
        assert.ok(e instanceof CloisterError && e.code.startsWith('QUOTE_'), String(e));
      }
      try {
        snpEvidence(bytes);
      } catch (e) {
        assert.ok(e instanceof CloisterError, String(e));
      }
    }),
  );
  fc.assert(
    fc.property(
      fc.jsonValue(),
      fc.constantFrom('quote', 'report') as fc.Arbitrary<'quote' | 'report'>,
      (body, member) => {
        try {
          parseAttestRequest(body, member);
        } catch (e) {
          assert.ok(e instanceof CloisterError && e.code === 'REQUEST_INVALID', String(e));
        }
      },
    ),
  );
});
