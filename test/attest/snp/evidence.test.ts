import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import { encodeCertTable, evidenceKind, parseCertTable, splitSnpEvidence } from '../../../src/attest/index.js';
import { pemCertificates } from '../../../src/attest/lib/x509.js';
import { quoteBytes, SGX_V3, TDX_V4 } from '../dcap/helpers.js';
import { MILAN, bytes, onlyCloisterErrors, reportOf, text, throwsCode } from './helpers.js';

/**
 * The SEV-SNP certificate table (configfs-tsm auxblob, GHCB spec §4.1.8.1), cloister's SNP
 * evidence (report ‖ table) and the evidence kind detector: round trips, one test per rejection
 * rule, and arbitrary bytes only ever giving the typed error.
 */

const der = (pem: string) => pemCertificates(pem, 'vector')[0] as Uint8Array;
const certs = {
  vcek: bytes(`${MILAN}/vcek.der`),
  ask: der(text(`${MILAN}/ask.pem`)),
  ark: der(text(`${MILAN}/ark.pem`)),
};

describe('SEV-SNP certificate table', () => {
  test('round trip: the DER certificates come back, the ASK and ARK as PEM', () => {
    const parsed = parseCertTable(encodeCertTable(certs));
    assert.deepEqual(parsed.vcek, certs.vcek);
    assert.equal(parsed.ask, text(`${MILAN}/ask.pem`).replace(/\r/g, ''));
    assert.equal(der(parsed.ark as string).length, certs.ark.length);
  });

  test('GUIDs are in RFC 4122 byte order: the VCEK entry starts 63 da 75 8d', () => {
    const table = encodeCertTable({ vcek: certs.vcek });
    assert.deepEqual([...table.subarray(0, 4)], [0x63, 0xda, 0x75, 0x8d]);
  });

  test('entries of unknown GUIDs are skipped', () => {
    const table = Buffer.from(encodeCertTable({ vcek: certs.vcek, ask: certs.ask }));
    table.fill(0x11, 24, 40); // the ASK entry's GUID becomes unknown
    const parsed = parseCertTable(table);
    assert.ok(parsed.vcek);
    assert.equal(parsed.ask, undefined);
  });

  test('an entry pointing outside the table is refused', () => {
    const table = Buffer.from(encodeCertTable({ vcek: certs.vcek }));
    table.writeUInt32LE(table.length, 16);
    throwsCode(() => parseCertTable(table), 'SNP_CERT_TABLE_INVALID', 'certTable[0]');
  });

  test('an entry pointing into the entries is refused', () => {
    const table = Buffer.from(encodeCertTable({ vcek: certs.vcek }));
    table.writeUInt32LE(8, 16);
    throwsCode(() => parseCertTable(table), 'SNP_CERT_TABLE_INVALID', 'certTable[0]');
  });

  test('a table without its terminating entry is refused', () => {
    const table = encodeCertTable({ vcek: certs.vcek });
    throwsCode(() => parseCertTable(table.subarray(0, 30)), 'SNP_CERT_TABLE_INVALID');
  });

  test('a second entry of one kind is refused (which VCEK would count?)', () => {
    const one = Buffer.from(encodeCertTable({ vcek: certs.vcek }));
    const table = Buffer.alloc(one.length + 24);
    one.copy(table, 0, 0, 24);
    one.copy(table, 24, 0, 24);
    one.copy(table, 72, 48);
    table.writeUInt32LE(72, 16);
    table.writeUInt32LE(72, 40);
    throwsCode(() => parseCertTable(table), 'SNP_CERT_TABLE_INVALID', 'certTable[1]');
  });

  test('arbitrary bytes only ever give SNP_CERT_TABLE_INVALID', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        onlyCloisterErrors(() => parseCertTable(b), ['SNP_CERT_TABLE_INVALID']);
      }),
    );
  });

  test('SNP evidence: the report and, after it, the table', () => {
    const report = reportOf(MILAN);
    const evidence = new Uint8Array(Buffer.concat([report, encodeCertTable(certs)]));
    const split = splitSnpEvidence(evidence);
    assert.deepEqual(split.report, report);
    assert.deepEqual(split.certs.vcek, certs.vcek);
    assert.deepEqual(splitSnpEvidence(report).certs, {});
    throwsCode(() => splitSnpEvidence(report.subarray(0, 100)), 'SNP_REPORT_TRUNCATED');
  });
});

describe('evidence kind', () => {
  test('real SGX and TDX quotes and an SNP report are told apart', () => {
    assert.equal(evidenceKind(quoteBytes(SGX_V3)), 'sgx');
    assert.equal(evidenceKind(quoteBytes(TDX_V4)), 'tdx');
    assert.equal(evidenceKind(reportOf(MILAN)), 'snp');
  });

  test('anything else is EVIDENCE_INVALID', () => {
    throwsCode(() => evidenceKind(Buffer.from('{"json": true}')), 'EVIDENCE_INVALID');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        onlyCloisterErrors(() => evidenceKind(b), ['EVIDENCE_INVALID']);
      }),
    );
  });
});
