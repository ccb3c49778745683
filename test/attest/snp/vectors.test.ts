import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  SNP_CLAIMS,
  SnpVerifier,
  amdArk,
  amdExtensions,
  parseCertificate,
  parseSnpReport,
  verifyEndorsement,
} from '../../../src/attest/index.js';
import { pemCertificates } from '../../../src/attest/lib/x509.js';
import {
  CHAINS,
  DAY,
  VIRTEE,
  VLEK,
  bytes,
  certsOf,
  expectedClaims,
  expectedOf,
  insideValidity,
  reportOf,
  text,
  throwsCode,
  vectorNames,
} from './helpers.js';

/** Known answers: every real SNP vector, at its own time; the held-out ones by the rules. */

const verifier = new SnpVerifier();
const iso = (s: string) => Date.parse(s) / 1000;

const withExpected = vectorNames('snp', true);
test('the SNP vectors with an expected outcome are all here', () => {
  assert.deepEqual(withExpected, ['snp/gosev-milan-vcek', 'snp/trustee-azure-genoa-vcek', 'snp/trustee-milan-vcek']);
});

for (const name of withExpected) {
  test(`${name}: verifies at verify_at_unix with exactly the expected claims`, () => {
    const e = expectedOf(name);
    assert.equal(e.expected.verifies, true);
    const v = verifier.verify(reportOf(name), certsOf(name), { now: e.verify_at_unix });
    assert.equal(v.tee, 'snp');
    assert.equal(v.tcbStatus, 'UpToDate');
    assert.deepEqual(v.advisoryIds, []);
    assert.equal(v.simulation, false);
    assert.equal(v.trailingBytes, 0);
    assert.deepEqual(Object.keys(v.claims), Object.keys(SNP_CLAIMS));
    assert.deepEqual(v.claims, expectedClaims(e.report));
    // The VCEK expires first (7 years; ASK and ARK 25).
    assert.equal(v.collateralExpiry, iso(e.signer_cert.not_after));
    // Its report and cert facts, as the independent parser saw them.
    const r = parseSnpReport(reportOf(name));
    assert.equal(r.version, e.report['version']);
    assert.equal(r.signingKey, 'vcek');
    assert.equal(
      `${r.currentVersion.major}.${r.currentVersion.minor}.${r.currentVersion.build}`,
      e.report['current_version'],
    );
    assert.equal(Buffer.from(r.reportId).toString('hex'), e.report['report_id']);
    assert.equal(Buffer.from(r.reportIdMa).toString('hex'), e.report['report_id_ma']);
    if (r.version >= 3)
      assert.deepEqual(r.cpuid, {
        family: e.report['cpuid_fam_id'],
        model: e.report['cpuid_mod_id'],
        stepping: e.report['cpuid_step'],
      });
  });

  test(`${name}: refused before its VCEK's notBefore and after its notAfter`, () => {
    const e = expectedOf(name);
    throwsCode(
      () => verifier.verify(reportOf(name), certsOf(name), { now: iso(e.signer_cert.not_before) - 1 }),
      'CERT_NOT_YET_VALID',
      'vcekChain',
    );
    throwsCode(
      () => verifier.verify(reportOf(name), certsOf(name), { now: iso(e.signer_cert.not_after) + 1 }),
      'CERT_EXPIRED',
      'vcekChain',
    );
  });
}

test('the held-out SNP vectors are the VLEK and the virtee ones', () => {
  assert.deepEqual(vectorNames('snp', false), [VLEK, VIRTEE]);
});

test(`${VIRTEE} (held out): a Milan VCEK report that verifies inside its VCEK's validity`, () => {
  const certs = certsOf(VIRTEE);
  const now = insideValidity(certs.vcek as Uint8Array);
  const v = verifier.verify(reportOf(VIRTEE), certs, { now });
  assert.equal(v.claims['chipId'], Buffer.from(parseSnpReport(reportOf(VIRTEE)).chipId).toString('hex'));
  assert.deepEqual(v.claims['reportedTcb'], { raw: '7308000000000003', bootloader: 3, tee: 0, snp: 8, microcode: 115 });
  assert.equal(v.claims['debug'], false);
});

test(`${VLEK} (held out): a VLEK report (AWS) that verifies inside the VLEK's one-year validity, and not after`, () => {
  const certs = certsOf(VLEK);
  const vlek = parseCertificate(certs.vlek as Uint8Array);
  assert.ok(vlek.notAfter - vlek.notBefore <= 366 * DAY);
  const report = parseSnpReport(reportOf(VLEK));
  assert.equal(report.signingKey, 'vlek');
  const v = verifier.verify(reportOf(VLEK), certs, { now: vlek.notBefore + DAY });
  assert.equal(v.claims['vmpl'], 1);
  // A masked CHIP_ID: a VLEK is not bound to a chip.
  assert.equal(v.claims['chipId'], '0'.repeat(128));
  assert.equal(v.collateralExpiry, vlek.notAfter);
  throwsCode(() => verifier.verify(reportOf(VLEK), certs, { now: vlek.notAfter + 1 }), 'CERT_EXPIRED', 'vlekChain');
  // Without the VLEK chain the report cannot be verified, even with a VCEK chain at hand.
  throwsCode(
    () => verifier.verify(reportOf(VLEK), certsOf('snp/trustee-milan-vcek'), { now: vlek.notBefore + DAY }),
    'COLLATERAL_MISSING',
    'vlek',
  );
});

test('cert-chains-only: the Turin VCEK chains to the Turin ASK and pinned ARK, with the Turin TCB layout and an 8-byte hwID', () => {
  const e = verifyEndorsement({
    kind: 'vcek',
    leaf: bytes(`${CHAINS}/virtee-turin-vcek.der`),
    intermediate: text(`${CHAINS}/turin-ask.pem`),
    ark: text(`${CHAINS}/turin-ark.pem`),
  });
  assert.equal(e.product, 'Turin');
  assert.equal(e.productName, 'Turin');
  assert.deepEqual(e.tcb, { fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 9 });
  assert.equal(Buffer.from(e.hwid as Uint8Array).toString('hex'), '1e550a8ee5cf9f4d');
  assert.equal(e.simulation, false);
  assert.equal(e.chain[2], amdArk('Turin'));
});

test('cert-chains-only: the ARK files of Milan and Turin are the pinned ARKs', () => {
  for (const [product, ark] of [
    ['Milan', 'milan-ark.pem'],
    ['Turin', 'turin-ark.pem'],
  ] as const) {
    assert.deepEqual(pemCertificates(text(`${CHAINS}/${ark}`))[0], amdArk(product).der);
  }
});

test('cert-chains-only: the two trustee VCEKs with unusual encodings parse, but their signatures do not chain to the Milan ASK', () => {
  const hwid = Buffer.from(Array.from({ length: 64 }, (_, i) => i)).toString('hex');
  for (const file of ['trustee-vcek-legacy-encoding.der', 'trustee-vcek-new-encoding.der']) {
    const input = {
      kind: 'vcek',
      leaf: bytes(`${CHAINS}/${file}`),
      intermediate: text(`${CHAINS}/milan-ask.pem`),
    } as const;
    const err = throwsCode(() => verifyEndorsement(input), 'CERT_CHAIN_INVALID', 'vcek');
    assert.match(err.message, /signature does not verify/);
    // The extensions themselves read: the new encoding wraps the hwID in an OCTET STRING.
    const ext = amdExtensions(parseCertificate(input.leaf), 'vcek');
    assert.equal(Buffer.from(ext.hwid as Uint8Array).toString('hex'), hwid);
  }
});

test('the Milan ASVK of cert-chains-only is the one of the VLEK vector', () => {
  assert.equal(text(`${CHAINS}/milan-asvk.pem`).trim(), text(`${VLEK}/asvk.pem`).trim());
});
