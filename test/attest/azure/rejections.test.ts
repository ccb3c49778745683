import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { SnpVerifier, verifyAzureVtpm, type AzureVtpmEvidence, type SnpCerts } from '../../../src/attest/index.js';
import type { ErrorCode } from '../../../src/lib/errors.js';
import { flip, throwsCode } from '../snp/helpers.js';
import { buildReport, signReport, testCa, testVcek } from '../snp/pki.js';
import {
  GENOA_EVIDENCE,
  HCL_AT,
  azureExpected,
  chainOf,
  claimsBytes,
  editClaims,
  evidenceJson,
  filesOf,
  sha256,
} from './helpers.js';

/** One test per rule of the Azure checks, on the Genoa evidence (and a test PKI for the VMPL rule). */

const e = azureExpected(GENOA_EVIDENCE);
const now = e.verify_at_unix;
const nonce = new Uint8Array(Buffer.from(e.expected_report_data_nonce as string, 'hex'));
const files = (): AzureVtpmEvidence => filesOf(evidenceJson(GENOA_EVIDENCE));
const verify = (evidence: unknown, options: { nonce?: Uint8Array } = { nonce }) =>
  verifyAzureVtpm(evidence, chainOf(GENOA_EVIDENCE), { now, ...options });
const rejects = (evidence: unknown, code: ErrorCode, field?: string) => throwsCode(() => verify(evidence), code, field);

/** The files with the HCL report changed by `change`. */
function withHcl(change: (hcl: Uint8Array) => Uint8Array): AzureVtpmEvidence {
  const f = files();
  return { ...f, hclReport: change(Uint8Array.from(f.hclReport)) };
}

function withQuote(
  change: (q: NonNullable<AzureVtpmEvidence['tpmQuote']>) => NonNullable<AzureVtpmEvidence['tpmQuote']>,
): AzureVtpmEvidence {
  const f = files();
  return { ...f, tpmQuote: change(f.tpmQuote as NonNullable<AzureVtpmEvidence['tpmQuote']>) };
}

const setU32 = (at: number, value: number) => (hcl: Uint8Array) => {
  new DataView(hcl.buffer).setUint32(at, value, true);
  return hcl;
};

describe('the TPM quote', () => {
  test('another nonce → TPM_NONCE_MISMATCH', () => {
    throwsCode(() => verify(files(), { nonce: flip(nonce, 0) }), 'TPM_NONCE_MISMATCH', 'quote.extraData');
    throwsCode(() => verify(files(), { nonce: nonce.subarray(0, 32) }), 'TPM_NONCE_MISMATCH', 'quote.extraData');
  });

  test('a changed PCR value → TPM_PCR_DIGEST_MISMATCH', () => {
    for (const i of [0, 7, 23])
      rejects(
        withQuote((q) => ({ ...q, pcrs: q.pcrs.map((p, n) => (n === i ? flip(p, 31) : p)) })),
        'TPM_PCR_DIGEST_MISMATCH',
        'quote.pcrDigest',
      );
  });

  test('a PCR value missing → TPM_QUOTE_INVALID', () => {
    rejects(
      withQuote((q) => ({ ...q, pcrs: q.pcrs.slice(0, 23) })),
      'TPM_QUOTE_INVALID',
    );
    rejects(
      withQuote((q) => ({ ...q, pcrs: q.pcrs.map((p) => p.subarray(0, 20)) })),
      'TPM_QUOTE_INVALID',
    );
  });

  test('a changed quote (extraData, clock, PCR digest) → TPM_QUOTE_SIGNATURE_INVALID', () => {
    // magic 4, type 2, qualifiedSigner 2+34, extraData 2+48 at 42, clockInfo at 92, pcrDigest at the end.
    for (const at of [44, 92, 100, 160])
      rejects(
        withQuote((q) => ({ ...q, message: flip(q.message, at) })),
        'TPM_QUOTE_SIGNATURE_INVALID',
        'quote.signature',
      );
  });

  test('a changed signature → TPM_QUOTE_SIGNATURE_INVALID', () => {
    for (const at of [0, 128, 255])
      rejects(
        withQuote((q) => ({ ...q, signature: flip(q.signature, at) })),
        'TPM_QUOTE_SIGNATURE_INVALID',
        'quote.signature',
      );
  });

  test('not a TPM-generated quote (magic, type) → TPM_QUOTE_INVALID; truncated or longer → TPM_QUOTE_TRUNCATED / TRAILING_BYTES', () => {
    rejects(
      withQuote((q) => ({ ...q, message: flip(q.message, 0) })),
      'TPM_QUOTE_INVALID',
      'quote.magic',
    );
    rejects(
      withQuote((q) => ({ ...q, message: flip(q.message, 5) })),
      'TPM_QUOTE_INVALID',
      'quote.type',
    );
    rejects(
      withQuote((q) => ({ ...q, message: q.message.subarray(0, 100) })),
      'TPM_QUOTE_TRUNCATED',
    );
    rejects(
      withQuote((q) => ({ ...q, message: Uint8Array.from([...q.message, 0]) })),
      'TPM_QUOTE_TRAILING_BYTES',
      'quote',
    );
  });

  test('a TPMT_SIGNATURE (TPM_ALG_RSASSA, SHA-256) verifies; other schemes and hashes → TPM_QUOTE_INVALID', () => {
    const tpmt = (alg: number, hash: number) => (q: NonNullable<AzureVtpmEvidence['tpmQuote']>) => ({
      ...q,
      signature: Uint8Array.from([alg >> 8, alg & 0xff, hash >> 8, hash & 0xff, 1, 0, ...q.signature]),
    });
    assert.equal(verify(withQuote(tpmt(0x0014, 0x000b))).tee, 'azure-snp-vtpm');
    rejects(withQuote(tpmt(0x0016, 0x000b)), 'TPM_QUOTE_INVALID', 'signature.sigAlg');
    rejects(withQuote(tpmt(0x0014, 0x0004)), 'TPM_QUOTE_INVALID', 'signature.hash');
    // Signed with SHA-256, declared SHA-384.
    rejects(withQuote(tpmt(0x0014, 0x000c)), 'TPM_QUOTE_SIGNATURE_INVALID', 'quote.signature');
  });
});

describe('the HCL report', () => {
  test('a changed SNP report inside → SNP_SIGNATURE_INVALID', () => {
    rejects(
      withHcl((h) => flip(h, HCL_AT.snp + 0x90)),
      'SNP_SIGNATURE_INVALID',
      'report.signature',
    );
  });

  test('changed runtime claims → AZURE_REPORT_DATA_MISMATCH', () => {
    const claims = Buffer.from(claimsBytes(files().hclReport)).toString('latin1');
    const id = /"vmUniqueId":"([0-9A-F])/.exec(claims)?.[1] as string;
    rejects(
      withHcl((h) => editClaims(h, `"vmUniqueId":"${id}`, `"vmUniqueId":"${id === 'A' ? 'B' : 'A'}`)),
      'AZURE_REPORT_DATA_MISMATCH',
      'report.reportData',
    );
  });

  test('runtime claims without the attestation key, or not JSON → AZURE_RUNTIME_CLAIMS_INVALID', () => {
    rejects(
      withHcl((h) => editClaims(h, '"HCLAkPub"', '"HCLAkPuX"')),
      'AZURE_RUNTIME_CLAIMS_INVALID',
    );
    rejects(
      withHcl((h) => editClaims(h, '"kty":"RSA"', '"kty":"EC!"')),
      'AZURE_RUNTIME_CLAIMS_INVALID',
    );
    rejects(
      withHcl((h) => editClaims(h, '{"keys"', '["keys"')),
      'AZURE_RUNTIME_CLAIMS_INVALID',
    );
  });

  test('header and request data: signature, version, reserved, sizes, report type, hash type → AZURE_HCL_INVALID', () => {
    const cases: [(h: Uint8Array) => Uint8Array, string][] = [
      [setU32(0, 0x414c4349), 'hcl.header.signature'],
      [setU32(HCL_AT.version, 3), 'hcl.header.version'],
      [setU32(HCL_AT.reserved, 1), 'hcl.header.reserved'],
      [setU32(HCL_AT.reportSize, 2437), 'hcl.header.reportSize'],
      [setU32(HCL_AT.requestData, 1221), 'hcl.requestData.dataSize'],
      [setU32(HCL_AT.requestData + 4, 2), 'hcl.requestData.version'],
      [setU32(HCL_AT.reportType, 4), 'hcl.requestData.reportType'],
      [setU32(HCL_AT.hashType, 0), 'hcl.requestData.reportDataHashType'],
      [(h) => flip(h, h.length - 1), 'hcl.padding'],
    ];
    for (const [change, field] of cases) rejects(withHcl(change), 'AZURE_HCL_INVALID', field);
  });

  test('a truncated HCL report → AZURE_HCL_TRUNCATED; without padding it still verifies', () => {
    for (const length of [0, 31, 1000, 1230, 2000])
      rejects(
        withHcl((h) => h.subarray(0, length)),
        'AZURE_HCL_TRUNCATED',
      );
    const size = new DataView(files().hclReport.buffer).getUint32(HCL_AT.reportSize, true);
    assert.equal(verify(withHcl((h) => h.subarray(0, size))).tee, 'azure-snp-vtpm');
  });

  test('another hash type (SHA-384) for the same claims → AZURE_REPORT_DATA_MISMATCH', () => {
    rejects(withHcl(setU32(HCL_AT.hashType, 2)), 'AZURE_REPORT_DATA_MISMATCH', 'report.reportData');
  });
});

describe('evidence shapes → AZURE_EVIDENCE_MALFORMED naming the path', () => {
  const v1 = () => evidenceJson(GENOA_EVIDENCE);
  const cases: [string, unknown, string][] = [
    ['not an object', [1, 2], 'evidence'],
    ['no report', { ...v1(), report: undefined }, 'evidence.report'],
    ['a byte out of range', { ...v1(), report: [256] }, 'evidence.report[0]'],
    ['an HCL report too long', { ...v1(), report: new Array(20_000).fill(0) }, 'evidence.report'],
    ['an unknown version', { ...v1(), version: 3 }, 'evidence.version'],
    ['a quote that is not an object', { ...v1(), quote: 'x' }, 'evidence.quote'],
    ['PCRs not an array', { ...v1(), quote: { ...(v1()['quote'] as object), pcrs: 'x' } }, 'evidence.quote.pcrs'],
    ['v2 HCL report not base64url', { version: 2, hcl_report: 'a+b/', tpm_quote: {} }, 'evidence.hcl_report'],
    [
      'v2 quote message not hex',
      { version: 2, hcl_report: 'AAAA', tpm_quote: { message: 'zz', signature: '', pcrs: [] } },
      'evidence.tpm_quote.message',
    ],
    ['the files form with text instead of bytes', { hclReport: 'HCLA' }, 'evidence.hclReport'],
  ];
  for (const [what, evidence, path] of cases) {
    test(what, () => {
      const err = throwsCode(() => verify(evidence, {}), 'AZURE_EVIDENCE_MALFORMED');
      assert.equal(err.path, path);
    });
  }

  test('a VCEK in the evidence that is not PEM → PEM_MALFORMED', () => {
    throwsCode(() => verify({ ...v1(), vcek: 'nope' }, {}), 'PEM_MALFORMED');
  });
});

describe('VMPL (test PKI): the SNP report must come from the paravisor at VMPL 0', async () => {
  const ca = await testCa('Genoa');
  const hwid = new Uint8Array(64).fill(9);
  const tcb = { bootloader: 10, tee: 0, snp: 23, microcode: 84 };
  const vcek = await testVcek(ca, hwid, tcb);
  const verifier = new SnpVerifier({ roots: { Genoa: ca.arkDer } });
  const certs: SnpCerts = { vcek: vcek.der, ask: ca.askPem, ark: ca.arkPem };
  const at = vcek.notBefore + 86_400;
  /** The Genoa evidence with its SNP report replaced by one of ours at `vmpl`, binding the same runtime claims. */
  const evidence = (vmpl: number): AzureVtpmEvidence => {
    const f = files();
    const reportData = new Uint8Array(64);
    reportData.set(sha256(claimsBytes(f.hclReport)));
    const hcl = Uint8Array.from(f.hclReport);
    hcl.set(signReport(buildReport({ vmpl, tcb, chipId: hwid, reportData }), vcek.key), HCL_AT.snp);
    return { ...f, hclReport: hcl, vcek: undefined };
  };

  test('VMPL 0 verifies (with the real quote, signed by the key in the runtime claims)', () => {
    const v = verifyAzureVtpm(evidence(0), certs, { now: at, nonce, verifier });
    assert.equal(v.simulation, true);
    assert.equal(v.claims['nonce'], e.expected_report_data_nonce);
  });

  test('VMPL 1 to 3 → AZURE_REPORT_VMPL', () => {
    for (const vmpl of [1, 2, 3])
      throwsCode(
        () => verifyAzureVtpm(evidence(vmpl), certs, { now: at, verifier }),
        'AZURE_REPORT_VMPL',
        'report.vmpl',
      );
  });
});
