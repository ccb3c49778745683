import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { SnpVerifier, parseSnpReport, type SnpCerts } from '../../../src/attest/index.js';
import type { ErrorCode } from '../../../src/lib/errors.js';
import {
  DAY,
  GENOA,
  GOSEV,
  MILAN,
  VLEK,
  certsOf,
  expectedOf,
  flip,
  reportCopy,
  reportOf,
  text,
  throwsCode,
} from './helpers.js';
import { OFFSET, buildReport, signReport, testCa, testCrl, testVcek } from './pki.js';

/** One test per rejection rule, on the real vectors where they suffice and on a test PKI of our own where AMD never signed the content. */

const verifier = new SnpVerifier();
const at = (name: string) => expectedOf(name).verify_at_unix;
const verifyAs = (name: string, report: Uint8Array, certs: SnpCerts = certsOf(name), now = at(name)) =>
  verifier.verify(report, certs, { now });
const rejects = (name: string, report: Uint8Array, code: ErrorCode, field?: string) =>
  throwsCode(() => verifyAs(name, report), code, field);

describe('signed fields: one flipped bit → SNP_SIGNATURE_INVALID', () => {
  for (const name of [GENOA, MILAN, GOSEV]) {
    test(`measurement (${name})`, () => {
      for (const i of [0, 23, 47])
        rejects(
          name,
          flip(reportOf(name), OFFSET.measurement + i, 1 << (i % 8)),
          'SNP_SIGNATURE_INVALID',
          'report.signature',
        );
    });
    test(`report data (${name})`, () => {
      for (const i of [0, 31, 63])
        rejects(name, flip(reportOf(name), OFFSET.reportData + i, 0x80), 'SNP_SIGNATURE_INVALID', 'report.signature');
    });
    test(`signature r and s (${name})`, () => {
      for (const i of [0, 47, 72, 72 + 47])
        rejects(name, flip(reportOf(name), OFFSET.signature + i, 0x08), 'SNP_SIGNATURE_INVALID', 'report.signature');
    });
    test(`other signed fields: guest SVN, family id, host data, id key digest, report id, chip-independent fields (${name})`, () => {
      for (const offset of [0x04, 0x10, 0xc0, 0xe0, 0x140, 0x160])
        rejects(name, flip(reportOf(name), offset), 'SNP_SIGNATURE_INVALID');
    });
  }
});

describe('report structure', () => {
  test('a truncated report → SNP_REPORT_TRUNCATED', () => {
    for (const length of [0, 3, 0x50, 0x2a0, 0x49f])
      throwsCode(() => verifyAs(GENOA, reportOf(GENOA).subarray(0, length)), 'SNP_REPORT_TRUNCATED');
  });

  test('bytes after the report → SNP_REPORT_TRAILING_BYTES', () => {
    const longer = new Uint8Array(0x4a1);
    longer.set(reportOf(GENOA));
    throwsCode(() => verifyAs(GENOA, longer), 'SNP_REPORT_TRAILING_BYTES', 'report');
  });

  test('a wrong version (0, 1, 4, 6, 2^31) → SNP_REPORT_UNSUPPORTED_VERSION', () => {
    for (const version of [0, 1, 4, 6, 0x80000000]) {
      const r = reportCopy(GENOA);
      new DataView(r.buffer).setUint32(0, version, true);
      throwsCode(() => verifyAs(GENOA, r), 'SNP_REPORT_UNSUPPORTED_VERSION', 'report.version');
    }
  });

  test('a v3 report relabelled v2 → reserved CPUID bytes, SNP_REPORT_RESERVED_NONZERO', () => {
    const r = reportCopy(GENOA);
    r[0] = 2;
    throwsCode(() => verifyAs(GENOA, r), 'SNP_REPORT_RESERVED_NONZERO', 'report.reserved1');
  });

  test('reserved bytes not zero → SNP_REPORT_RESERVED_NONZERO naming the field', () => {
    const cases: [number, string][] = [
      [OFFSET.reserved0, 'report.reserved0'],
      [OFFSET.reserved1, 'report.reserved1'],
      [0x19f, 'report.reserved1'],
      [OFFSET.currentVersionReserved, 'report.currentVersion.reserved'],
      [0x1ef, 'report.committedVersion.reserved'],
      [0x1f8, 'report.reserved2'],
      [0x29f, 'report.reserved2'],
      [OFFSET.signature + 48, 'report.signature.r'],
      [OFFSET.signature + 72 + 71, 'report.signature.s'],
      [OFFSET.signatureReserved, 'report.signature.reserved'],
      [0x49f, 'report.signature.reserved'],
      // TCB_VERSION bytes 2-5 are reserved in the Milan/Genoa layout.
      [OFFSET.reportedTcb + 2, 'report.reportedTcb'],
      [OFFSET.currentTcb + 5, 'report.currentTcb'],
      [0x1e0 + 3, 'report.committedTcb'],
      [OFFSET.launchTcb + 4, 'report.launchTcb'],
      // Guest policy bits 63:26 and flags bits 31:5.
      [OFFSET.policy + 3, 'report.policy'],
      [OFFSET.policy + 7, 'report.policy'],
      [OFFSET.flags, 'report.flags'],
    ];
    for (const [offset, field] of cases) {
      const r = reportCopy(GENOA);
      r[offset] = (r[offset] as number) | (offset === OFFSET.flags ? 0x20 : offset === OFFSET.policy + 3 ? 0x04 : 0x01);
      throwsCode(() => verifyAs(GENOA, r), 'SNP_REPORT_RESERVED_NONZERO', field);
    }
  });

  test('values the ABI does not allow → SNP_REPORT_INVALID', () => {
    const set = (offset: number, value: number) => {
      const r = reportCopy(GENOA);
      new DataView(r.buffer).setUint32(offset, value, true);
      return r;
    };
    throwsCode(() => verifyAs(GENOA, set(OFFSET.signatureAlgo, 2)), 'SNP_REPORT_INVALID', 'report.signatureAlgo');
    throwsCode(() => verifyAs(GENOA, set(OFFSET.vmpl, 4)), 'SNP_REPORT_INVALID', 'report.vmpl');
    // SIGNING_KEY 7 (none) and 2 (reserved).
    for (const key of [7, 2])
      throwsCode(() => verifyAs(GENOA, set(OFFSET.flags, key << 2)), 'SNP_REPORT_INVALID', 'report.flags');
    // Guest policy bit 17 is reserved and must be one.
    throwsCode(() => verifyAs(GENOA, set(OFFSET.policy, 0x1001f)), 'SNP_REPORT_INVALID', 'report.policy');
    // A CPUID family no product line claims.
    const r = reportCopy(GENOA);
    r[OFFSET.cpuid] = 0x17;
    throwsCode(() => verifyAs(GENOA, r), 'SNP_REPORT_INVALID', 'report.cpuid');
  });
});

describe('the signing key and its chain', () => {
  test("the wrong VCEK (another vector's, another chip) → SNP_CHIP_ID_MISMATCH", () => {
    throwsCode(
      () => verifyAs(MILAN, reportOf(MILAN), { ...certsOf(MILAN), vcek: certsOf(GOSEV).vcek }),
      'SNP_CHIP_ID_MISMATCH',
      'report.chipId',
    );
    throwsCode(
      () => verifyAs(GOSEV, reportOf(GOSEV), { ...certsOf(GOSEV), vcek: certsOf(MILAN).vcek }),
      'SNP_CHIP_ID_MISMATCH',
      'report.chipId',
    );
  });

  test('a Genoa report and VCEK with the Milan ASK and ARK → SNP_PRODUCT_MISMATCH', () => {
    const milan = certsOf(MILAN);
    throwsCode(
      () => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(GENOA), ask: milan.ask, ark: milan.ark }),
      'SNP_PRODUCT_MISMATCH',
      'ark',
    );
    throwsCode(
      () => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(GENOA), ark: milan.ark }),
      'SNP_PRODUCT_MISMATCH',
      'ark',
    );
    throwsCode(
      () => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(GENOA), ask: milan.ask }),
      'SNP_PRODUCT_MISMATCH',
      'ask',
    );
  });

  test("a Genoa report with a Milan VCEK chain → SNP_PRODUCT_MISMATCH (the report's CPUID names Genoa)", () => {
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), certsOf(MILAN)), 'SNP_PRODUCT_MISMATCH', 'report.cpuid');
  });

  test('an ARK that is no pinned ARK → UNTRUSTED_ROOT; no ARK at all uses the pinned one', async () => {
    const ca = await testCa('Genoa');
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(GENOA), ark: ca.arkPem }), 'UNTRUSTED_ROOT', 'ark');
    const { ark: _ark, ...withoutArk } = certsOf(GENOA);
    assert.equal(verifyAs(GENOA, reportOf(GENOA), withoutArk).simulation, false);
  });

  test('an ASK that the pinned ARK did not issue → UNTRUSTED_ROOT', async () => {
    const ca = await testCa('Genoa');
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(GENOA), ask: ca.askPem }), 'UNTRUSTED_ROOT', 'ask');
  });

  test('a VCEK the ASK did not sign → CERT_CHAIN_INVALID; a chain file with two certificates as the ASK → CERT_CHAIN_INVALID', async () => {
    const ca = await testCa('Genoa');
    const vcek = await testVcek(ca, new Uint8Array(64).fill(1), { bootloader: 1, tee: 0, snp: 1, microcode: 1 });
    throwsCode(
      () => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(GENOA), vcek: vcek.der }),
      'CERT_CHAIN_INVALID',
      'vcek',
    );
    const g = certsOf(GENOA);
    throwsCode(
      () => verifyAs(GENOA, reportOf(GENOA), { ...g, ask: `${g.ask as string}${g.ark as string}` }),
      'CERT_CHAIN_INVALID',
      'ask',
    );
  });

  test('an ASK or ARK as the VCEK → SNP_ENDORSEMENT_INVALID', () => {
    const g = certsOf(GENOA);
    const der = (pem: string) => new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), { ...g, vcek: der(g.ask as string) }), 'SNP_ENDORSEMENT_INVALID');
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), { ...g, vcek: der(g.ark as string) }), 'SNP_ENDORSEMENT_INVALID');
  });

  test('an expired VCEK (after notAfter) → CERT_EXPIRED; before notBefore → CERT_NOT_YET_VALID', () => {
    const expiry = Date.parse(expectedOf(GENOA).signer_cert.not_after) / 1000;
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), certsOf(GENOA), expiry + 1), 'CERT_EXPIRED', 'vcekChain');
    throwsCode(
      () => verifyAs(GENOA, reportOf(GENOA), certsOf(GENOA), Date.UTC(2020, 0, 1) / 1000),
      'CERT_NOT_YET_VALID',
      'vcekChain',
    );
    assert.ok(verifyAs(GENOA, reportOf(GENOA), certsOf(GENOA), expiry));
  });

  test('REPORTED_TCB not matching the VCEK → SNP_TCB_MISMATCH (each component)', () => {
    // Bytes 0, 1, 6, 7 of the TCB_VERSION: bootloader, TEE, SNP, microcode.
    for (const [i, component] of [
      [0, 'bootloader'],
      [1, 'tee'],
      [6, 'snp'],
      [7, 'microcode'],
    ] as const) {
      const r = reportCopy(MILAN);
      r[OFFSET.reportedTcb + i] = (r[OFFSET.reportedTcb + i] as number) + 1;
      throwsCode(() => verifyAs(MILAN, r), 'SNP_TCB_MISMATCH', `report.reportedTcb.${component}`);
    }
    // The Milan vector's CURRENT_TCB (microcode 206) is above its REPORTED_TCB (115): only REPORTED_TCB is certified.
    assert.notDeepEqual(parseSnpReport(reportOf(MILAN)).currentTcb, parseSnpReport(reportOf(MILAN)).reportedTcb);
  });

  test('no VCEK or no ASK → COLLATERAL_MISSING', () => {
    const { vcek: _v, ...noVcek } = certsOf(GENOA);
    const { ask: _a, ...noAsk } = certsOf(GENOA);
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), noVcek), 'COLLATERAL_MISSING', 'vcek');
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), noAsk), 'COLLATERAL_MISSING', 'ask');
  });

  test('a VLEK given as a VCEK (or the reverse) → SNP_ENDORSEMENT_INVALID', () => {
    const v = certsOf(VLEK);
    throwsCode(() => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(MILAN), vcek: v.vlek }), 'SNP_ENDORSEMENT_INVALID');
    throwsCode(
      () =>
        verifier.verify(
          reportOf(VLEK),
          { vlek: certsOf(MILAN).vcek, asvk: v.asvk, ark: v.ark },
          { now: Date.UTC(2025, 0, 1) / 1000 },
        ),
      'SNP_ENDORSEMENT_INVALID',
    );
  });

  test('a PEM ASK that is not PEM → PEM_MALFORMED; a VCEK that is not DER → DER_MALFORMED', () => {
    throwsCode(
      () => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(GENOA), ask: 'not a certificate' }),
      'PEM_MALFORMED',
    );
    throwsCode(
      () => verifyAs(GENOA, reportOf(GENOA), { ...certsOf(GENOA), vcek: new Uint8Array([0x30, 0x03, 0x02, 0x01]) }),
      'DER_MALFORMED',
    );
  });
});

describe('a test PKI of our own (SnpVerifier with roots: verdicts say simulation)', async () => {
  const ca = await testCa('Genoa');
  const hwid = new Uint8Array(64).map((_, i) => i + 1);
  const tcb = { bootloader: 10, tee: 1, snp: 23, microcode: 84 };
  const vcek = await testVcek(ca, hwid, tcb, { serial: '0badc0de' });
  const own = new SnpVerifier({ roots: { Genoa: ca.arkDer } });
  const certs: SnpCerts = { vcek: vcek.der, ask: ca.askPem, ark: ca.arkPem };
  const now = vcek.notBefore + DAY;
  const signed = (fields: Parameters<typeof buildReport>[0] = {}) =>
    signReport(buildReport({ tcb, chipId: hwid, ...fields }), vcek.key);

  test('a report signed with our own P-384 key verifies, labelled simulation', () => {
    const v = own.verify(signed(), certs, { now });
    assert.equal(v.simulation, true);
    assert.deepEqual(v.claims['reportedTcb'], {
      raw: '541700000000010a',
      bootloader: 10,
      tee: 1,
      snp: 23,
      microcode: 84,
    });
    // The pinned verifier refuses the same chain.
    throwsCode(() => verifier.verify(signed(), certs, { now }), 'UNTRUSTED_ROOT', 'ark');
  });

  test('REPORTED_TCB that the VCEK does not certify, in a correctly signed report → SNP_TCB_MISMATCH', () => {
    throwsCode(
      () => own.verify(signed({ reportedTcb: { ...tcb, microcode: 85 } }), certs, { now }),
      'SNP_TCB_MISMATCH',
      'report.reportedTcb.microcode',
    );
    throwsCode(
      () => own.verify(signed({ reportedTcb: { ...tcb, snp: 22 } }), certs, { now }),
      'SNP_TCB_MISMATCH',
      'report.reportedTcb.snp',
    );
  });

  test('a report signed by another key whose CHIP_ID and TCB match → SNP_SIGNATURE_INVALID', async () => {
    const other = await testVcek(ca, hwid, tcb);
    throwsCode(
      () => own.verify(signed(), { ...certs, vcek: other.der }, { now }),
      'SNP_SIGNATURE_INVALID',
      'report.signature',
    );
  });

  test('a report whose CPUID names Milan with a Genoa VCEK → SNP_PRODUCT_MISMATCH', () => {
    throwsCode(
      () => own.verify(signed({ cpuid: [0x19, 0x01, 0x01] }), certs, { now }),
      'SNP_PRODUCT_MISMATCH',
      'report.cpuid',
    );
  });

  test('MASK_CHIP_KEY: an unsigned report → SNP_SIGNATURE_INVALID', () => {
    const r = buildReport({ tcb, chipId: hwid, flags: 0x2 });
    throwsCode(() => own.verify(r, certs, { now }), 'SNP_SIGNATURE_INVALID', 'report.signature');
  });

  test('a revoked VCEK: a CRL of the ASK that lists its serial → CERT_REVOKED', async () => {
    const crl = await testCrl(ca, 'ask', ['01', vcek.serial], now - DAY);
    throwsCode(() => own.verify(signed(), certs, { now, crl }), 'CERT_REVOKED', 'vcek');
  });

  test('an ASK CRL checked for one VCEK decides for each VCEK by its own serial', async () => {
    const other = await testVcek(ca, hwid, tcb, { serial: '77' });
    const crl = await testCrl(ca, 'ask', [vcek.serial], now - DAY);
    const otherReport = signReport(buildReport({ tcb, chipId: hwid }), other.key);
    assert.equal(own.verify(otherReport, { ...certs, vcek: other.der }, { now, crl }).simulation, true);
    throwsCode(() => own.verify(signed(), certs, { now, crl }), 'CERT_REVOKED', 'vcek');
  });

  test('a revoked ASK: a CRL of the ARK that lists its serial → CERT_REVOKED', async () => {
    const crl = await testCrl(ca, 'ark', ['010001'], now - DAY);
    throwsCode(() => own.verify(signed(), certs, { now, crl }), 'CERT_REVOKED', 'ask');
  });

  test('a current CRL without our serials verifies, and its nextUpdate bounds collateralExpiry', async () => {
    const crl = await testCrl(ca, 'ark', ['0badc0de', '77'], now - DAY, 7);
    const v = own.verify(signed(), certs, { now, crl });
    assert.equal(v.collateralExpiry, now + 6 * DAY);
    // The ARK's CRL covers the ASK only: the VCEK's serial listed there is another certificate's.
  });

  test('a CRL outside thisUpdate..nextUpdate → CRL_EXPIRED', async () => {
    const crl = await testCrl(ca, 'ark', [], now - 10 * DAY, 7);
    throwsCode(() => own.verify(signed(), certs, { now, crl }), 'CRL_EXPIRED', 'crl');
    const future = await testCrl(ca, 'ark', [], now + DAY, 7);
    throwsCode(() => own.verify(signed(), certs, { now, crl: future }), 'CRL_EXPIRED', 'crl');
  });

  test('an ASK with the right names that our ARK did not sign → CERT_CHAIN_INVALID', async () => {
    const stranger = await testCa('Genoa');
    throwsCode(() => own.verify(signed(), { ...certs, ask: stranger.askPem }, { now }), 'CERT_CHAIN_INVALID', 'ask');
  });

  test('a CRL signed by another CA, or garbage → CRL_INVALID', async () => {
    const stranger = await testCa('Genoa');
    const crl = await testCrl(stranger, 'ark', [], now - DAY);
    throwsCode(() => own.verify(signed(), certs, { now, crl }), 'CRL_INVALID', 'crl');
    throwsCode(() => own.verify(signed(), certs, { now, crl: new Uint8Array([1, 2, 3]) }), 'CRL_INVALID');
  });

  test("a CRL for the real AMD chain must come from AMD: our ARK's CRL → CRL_INVALID", async () => {
    const crl = await testCrl(ca, 'ark', [], at(GENOA) - DAY);
    throwsCode(() => verifier.verify(reportOf(GENOA), certsOf(GENOA), { now: at(GENOA), crl }), 'CRL_INVALID', 'crl');
  });
});

describe('Turin (test PKI): FMC in the TCB, an 8-byte hwID', async () => {
  const ca = await testCa('Turin');
  const hwid = Uint8Array.from([0x6b, 0xb1, 0x22, 0x9b, 0x76, 0x92, 0xb7, 0x10]);
  const tcb = { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 0x52 };
  const vcek = await testVcek(ca, hwid, tcb);
  const own = new SnpVerifier({ roots: { Turin: ca.arkDer } });
  const certs: SnpCerts = { vcek: vcek.der, ask: ca.askPem, ark: ca.arkPem };
  const now = vcek.notBefore + DAY;
  const chipId = new Uint8Array(64);
  chipId.set(hwid);
  const report = (fields: Parameters<typeof buildReport>[0] = {}) =>
    signReport(
      buildReport({ version: 5, cpuid: [0x1a, 0x02, 0x01], layout: 'turin', tcb, chipId, ...fields }),
      vcek.key,
    );

  test('a v5 Turin report verifies; its TCB claims use the Turin layout', () => {
    const v = own.verify(report(), certs, { now });
    assert.deepEqual(v.claims['reportedTcb'], {
      raw: '5200000004010101',
      fmc: 1,
      bootloader: 1,
      tee: 1,
      snp: 4,
      microcode: 0x52,
    });
    const parsed = parseSnpReport(report());
    assert.equal(parsed.product, 'Turin');
    assert.equal(parsed.launchMitVector, '0000000000000000');
  });

  test('FMC not matching the VCEK → SNP_TCB_MISMATCH', () => {
    throwsCode(
      () => own.verify(report({ reportedTcb: { ...tcb, fmc: 2 } }), certs, { now }),
      'SNP_TCB_MISMATCH',
      'report.reportedTcb.fmc',
    );
  });

  test('CHIP_ID beyond the 8-byte hwID must be zero → SNP_CHIP_ID_MISMATCH', () => {
    const longer = Uint8Array.from(chipId);
    longer[8] = 1;
    throwsCode(() => own.verify(report({ chipId: longer }), certs, { now }), 'SNP_CHIP_ID_MISMATCH', 'report.chipId');
  });

  test('Turin reserved TCB bytes 4-6 must be zero → SNP_REPORT_RESERVED_NONZERO', () => {
    const r = report();
    r[OFFSET.reportedTcb + 5] = 1;
    throwsCode(() => own.verify(r, certs, { now }), 'SNP_REPORT_RESERVED_NONZERO', 'report.reportedTcb');
  });

  test('v5 reserved bytes 0x208-0x29F must be zero; its mitigation vectors are read', () => {
    const r = report();
    r[OFFSET.reserved2] = 1;
    throwsCode(() => own.verify(r, certs, { now }), 'SNP_REPORT_RESERVED_NONZERO', 'report.reserved2');
    const withVectors = buildReport({ version: 5, cpuid: [0x1a, 0x02, 0x01], layout: 'turin', tcb, chipId });
    withVectors[0x1f8] = 0x03;
    withVectors[0x207] = 0x80;
    const parsed = parseSnpReport(signReport(withVectors, vcek.key));
    assert.equal(parsed.launchMitVector, '0000000000000003');
    assert.equal(parsed.currentMitVector, '8000000000000000');
  });

  test('a v2 report (no CPUID, the original TCB layout) cannot come from Turin → SNP_PRODUCT_MISMATCH', () => {
    throwsCode(
      () =>
        own.verify(
          signReport(
            buildReport({ version: 2, tcb: { bootloader: 1, tee: 1, snp: 4, microcode: 0x52 }, chipId }),
            vcek.key,
          ),
          certs,
          { now },
        ),
      'SNP_PRODUCT_MISMATCH',
      'report.version',
    );
  });
});

test('the Milan ASK file of every Milan vector is the same certificate', () => {
  const asks = new Set([MILAN, GOSEV, 'snp/virtee-milan-vcek'].map((n) => text(`${n}/ask.pem`).replace(/\s/g, '')));
  assert.equal(asks.size, 1);
});
