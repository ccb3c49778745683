import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  SNP_CLAIMS,
  parseAzureEvidence,
  parseCertificate,
  parseHclReport,
  parseSnpReport,
  verifyAzureVtpm,
} from '../../../src/attest/index.js';
import { DAY, expectedClaims, throwsCode, vectorNames } from '../snp/helpers.js';
import {
  GENOA_EVIDENCE,
  HCL_ONLY,
  MILAN_V2_EVIDENCE,
  UNPAIRED,
  azureExpected,
  bytes,
  chainOf,
  claimsBytes,
  evidenceJson,
  filesOf,
  sha256,
  text,
} from './helpers.js';

/** Known answers: the Azure confidential-VM vectors, and the unpaired HCL report that must be refused. */

const snpPart = (claims: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(SNP_CLAIMS).map((k) => [k, claims[k]]));

test('the azure-vtpm vectors: two with an expected outcome, one held out', () => {
  assert.deepEqual(vectorNames('azure-vtpm', true), [HCL_ONLY, GENOA_EVIDENCE]);
  assert.deepEqual(vectorNames('azure-vtpm', false), [MILAN_V2_EVIDENCE]);
});

test(`${GENOA_EVIDENCE}: verifies with the expected nonce, PCRs, SNP claims and runtime claims`, () => {
  const e = azureExpected(GENOA_EVIDENCE);
  const nonce = new Uint8Array(Buffer.from(e.expected_report_data_nonce as string, 'hex'));
  const v = verifyAzureVtpm(evidenceJson(GENOA_EVIDENCE), chainOf(GENOA_EVIDENCE), { now: e.verify_at_unix, nonce });
  assert.equal(v.tee, 'azure-snp-vtpm');
  assert.equal(v.tcbStatus, 'UpToDate');
  assert.equal(v.simulation, false);
  assert.deepEqual(snpPart(v.claims), expectedClaims(e.snp_report as Record<string, unknown>));
  const pcrs = v.claims['pcrs'] as Record<string, string>;
  assert.deepEqual(
    Object.keys(pcrs),
    Array.from({ length: 24 }, (_, i) => String(i)),
  );
  assert.equal(pcrs['0'], e.expected_pcr0);
  assert.equal(v.claims['nonce'], e.expected_report_data_nonce);
  const hcl = parseHclReport(filesOf(evidenceJson(GENOA_EVIDENCE)).hclReport);
  assert.deepEqual(v.claims['runtimeClaims'], JSON.parse(Buffer.from(hcl.runtimeClaimsBytes).toString('utf8')));
  assert.deepEqual(Object.keys(v.claims).slice(-3), ['runtimeClaims', 'pcrs', 'nonce']);
});

test(`${GENOA_EVIDENCE}: the same evidence as JSON text, as the files (bytes), and without a nonce`, () => {
  const e = azureExpected(GENOA_EVIDENCE);
  const json = evidenceJson(GENOA_EVIDENCE);
  const ref = verifyAzureVtpm(json, chainOf(GENOA_EVIDENCE), { now: e.verify_at_unix });
  assert.deepEqual(
    verifyAzureVtpm(
      new Uint8Array(Buffer.from(`\n ${text(`${GENOA_EVIDENCE}/evidence.json`)}`)),
      chainOf(GENOA_EVIDENCE),
      { now: e.verify_at_unix },
    ),
    ref,
  );
  assert.deepEqual(verifyAzureVtpm(filesOf(json), chainOf(GENOA_EVIDENCE), { now: e.verify_at_unix }), ref);
  // Its SNP report is the snp/ vector of the same name.
  assert.deepEqual(parseHclReport(filesOf(json).hclReport).snpReport, bytes('snp/trustee-azure-genoa-vcek/report.bin'));
});

test(`${HCL_ONLY}: the HCL report and VCEK files verify; REPORT_DATA binds the runtime claims`, () => {
  const e = azureExpected(HCL_ONLY);
  const hclReport = bytes(`${HCL_ONLY}/hcl-report.bin`);
  const vcek = bytes(`${HCL_ONLY}/vcek.der`);
  const v = verifyAzureVtpm({ hclReport, vcek }, chainOf(HCL_ONLY), { now: e.verify_at_unix });
  assert.deepEqual(snpPart(v.claims), expectedClaims(e.report as Record<string, unknown>));
  assert.deepEqual(v.claims['runtimeClaims'], e.hcl?.runtime_claims_json);
  assert.equal(v.claims['pcrs'], undefined);
  // The HCL report bytes alone, with the VCEK among the certificates.
  assert.deepEqual(verifyAzureVtpm(hclReport, { ...chainOf(HCL_ONLY), vcek }, { now: e.verify_at_unix }), v);
  const hcl = parseHclReport(hclReport);
  assert.deepEqual(hcl.snpReport, bytes(`${HCL_ONLY}/report.bin`));
  assert.deepEqual(hcl.runtimeClaimsBytes, claimsBytes(hclReport));
  assert.equal(hcl.runtimeClaimsBytes.length, 1110);
  assert.equal(hcl.padding, 2600 - 2346);
  assert.deepEqual(JSON.parse(text(`${HCL_ONLY}/runtime-claims.json`)), e.hcl?.runtime_claims_json);
  // Without a quote there is no nonce to check.
  throwsCode(
    () => verifyAzureVtpm({ hclReport, vcek }, chainOf(HCL_ONLY), { now: e.verify_at_unix, nonce: new Uint8Array(32) }),
    'TPM_QUOTE_MISSING',
    'tpmQuote',
  );
});

test(`${MILAN_V2_EVIDENCE} (held out): version 2 evidence verifies inside the VCEK's validity; the quoted nonce is the runtime claims' user-data`, () => {
  const json = evidenceJson(MILAN_V2_EVIDENCE);
  const evidence = parseAzureEvidence(json);
  const now = parseCertificate(evidence.vcek as Uint8Array).notBefore + DAY;
  const v = verifyAzureVtpm(json, chainOf(MILAN_V2_EVIDENCE), { now });
  const runtime = v.claims['runtimeClaims'] as Record<string, string>;
  const nonce = v.claims['nonce'];
  assert.ok(typeof nonce === 'string');
  assert.equal(nonce.length, 96);
  assert.equal(runtime['user-data']?.toLowerCase(), nonce.padEnd(128, '0'));
  assert.deepEqual(
    verifyAzureVtpm(json, chainOf(MILAN_V2_EVIDENCE), { now, nonce: new Uint8Array(Buffer.from(nonce, 'hex')) }),
    v,
  );
  assert.equal(Object.keys(v.claims['pcrs'] as object).length, 24);
  assert.equal(v.claims['vmpl'], 0);
  // A v3 report whose CPUID names Milan, as its VCEK and ASK do.
  assert.equal(parseSnpReport(parseHclReport(evidence.hclReport).snpReport).product, 'Milan');
});

test(`${UNPAIRED}: a well-formed HCL report with a VCEK of another chip is refused`, () => {
  const hclReport = bytes(`${UNPAIRED}/hcl-report-snp.bin`);
  const [vcek, ask, ark] = text(`${UNPAIRED}/certs.pem`)
    .split(/(?<=-----END CERTIFICATE-----)\s*/)
    .filter((p) => p.includes('BEGIN')) as [string, string, string];
  const vcekDer = new Uint8Array(Buffer.from(vcek.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
  const at = parseCertificate(vcekDer).notBefore + DAY;
  throwsCode(
    () => verifyAzureVtpm({ hclReport, vcek: vcekDer }, { ask, ark }, { now: at }),
    'SNP_CHIP_ID_MISMATCH',
    'report.chipId',
  );
  // The structure itself is sound and its binding holds.
  const hcl = parseHclReport(hclReport);
  assert.deepEqual(sha256(hcl.runtimeClaimsBytes), Buffer.from(hcl.snpReport.subarray(0x50, 0x70)));
  assert.equal(hcl.hashType, 'sha256');
});
