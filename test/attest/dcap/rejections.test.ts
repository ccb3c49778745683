import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DcapVerifier } from '../../../src/attest/dcap/verify.js';
import { parseQuote } from '../../../src/attest/dcap/quote.js';
import {
  collateralWindow,
  parseQeIdentity,
  parseTcbInfo,
  type PreparedCollateral,
} from '../../../src/attest/dcap/collateral.js';
import { customRoot } from '../../../src/attest/dcap/root.js';
import type { ErrorCode } from '../../../src/lib/errors.js';
import {
  DAY,
  MOBILECOIN,
  MOBILECOIN_AT,
  SGX_V3,
  STALE_PROCESSOR_CRL,
  TDX_V4,
  TDX_V4_OTHER_FMSPC,
  TDX_V5,
  TDX_V5_TCB_NOT_SUPPORTED,
  assemble,
  collateralJson,
  concat,
  expectedJson,
  flip,
  indexOf,
  layout,
  le16,
  le32,
  patch,
  pckChainValidity,
  pemDers,
  pemOf,
  quoteBytes,
  serialContent,
  signatureS,
  simulatedPki,
  split,
  throwsCode,
  toPem,
  u32,
  vectorBytes,
  verifyAt,
  withCertData,
} from './helpers.js';

/**
 * One test per rejection rule of the DCAP verifier (Intel SGX ECDSA Quote Library API, Intel TDX
 * DCAP Quoting Library API, Intel PCS API v4, QVL QuoteVerifier), on real quotes and collateral
 * changed in exactly one way; rules that need content Intel never signed use the simulated PKI of
 * helpers.ts (the genuine certificates re-keyed and re-signed).
 */

const verifier = new DcapVerifier();
const QUOTES = [SGX_V3, TDX_V4, TDX_V5] as const;
const short = (name: string) => name.split('/')[1] as string;

const preparedCache = new Map<string, PreparedCollateral>();
function prepared(name: string): PreparedCollateral {
  let c = preparedCache.get(name);
  if (!c) {
    c = verifier.prepare(collateralJson(name));
    preparedCache.set(name, c);
  }
  return c;
}

/** Verifies `bytes` with the collateral and time of vector `name`. */
function verifyAs(name: string, bytes: Uint8Array, now = verifyAt(name)) {
  return verifier.verify(bytes, { collateral: prepared(name), now });
}

const TIME_CODES: readonly ErrorCode[] = ['COLLATERAL_EXPIRED', 'CRL_EXPIRED', 'CERT_EXPIRED', 'CERT_NOT_YET_VALID'];

describe('positive controls: the unmodified inputs verify', () => {
  for (const name of QUOTES) {
    test(`${short(name)} verifies at its verify_at_unix with the expected status and trailing bytes`, () => {
      const e = expectedJson(name);
      const verdict = verifyAs(name, quoteBytes(name));
      assert.equal(verdict.tcbStatus, e.expected.tcb_status);
      assert.equal(verdict.trailingBytes, e.trailing_bytes_after_signature_data);
      assert.equal(verdict.simulation, false);
    });

    test(`${short(name)}: the helpers' quote layout round-trips byte for byte`, () => {
      const q = quoteBytes(name);
      assert.deepEqual(assemble(split(q)), q);
    });

    test(`${short(name)} moved to the simulated PKI verifies with the simulated root only`, () => {
      const sim = simulatedPki(name);
      const simVerifier = new DcapVerifier(customRoot(sim.root));
      const verdict = simVerifier.verify(sim.quote(), {
        collateral: simVerifier.prepare(sim.collateral()),
        now: verifyAt(name),
      });
      assert.equal(verdict.tcbStatus, expectedJson(name).expected.tcb_status);
      assert.equal(verdict.simulation, true);
    });
  }
});

describe('signed and bound regions: one changed byte', () => {
  for (const name of QUOTES) {
    const q = quoteBytes(name);
    const l = layout(q);
    const tdx = name !== SGX_V3;
    const reject = (at: number, code: ErrorCode) => throwsCode(() => verifyAs(name, flip(q, at)), code);

    test(`header qeSvn, pceSvn and userData are signed → QUOTE_SIGNATURE_INVALID (${short(name)})`, () => {
      for (const at of [8, 10, 28, 47]) reject(at, 'QUOTE_SIGNATURE_INVALID');
    });

    test(`report body bytes are signed → QUOTE_SIGNATURE_INVALID (${short(name)})`, () => {
      // SGX REPORTBODY: mrEnclave @64, mrSigner @128, reportData @320. TD report: mrTd @136, rtmr0 @328, reportData @520.
      const offsets = tdx ? [0, 136, 328, 520, 583] : [0, 64, 128, 320, 383];
      for (const at of offsets) reject(l.bodyAt + at, 'QUOTE_SIGNATURE_INVALID');
    });

    if (name === TDX_V5) {
      test(`TD 1.5 fields teeTcbSvn2 and mrServiceTd are signed → QUOTE_SIGNATURE_INVALID (${short(name)})`, () => {
        for (const at of [584, 600, 647]) reject(l.bodyAt + at, 'QUOTE_SIGNATURE_INVALID');
      });
    }

    test(`quote signature r and s → QUOTE_SIGNATURE_INVALID (${short(name)})`, () => {
      for (const at of [l.sigAt, l.sigAt + 31, l.sigAt + 32, l.sigAt + 63]) reject(at, 'QUOTE_SIGNATURE_INVALID');
    });

    test(`attestation key is bound by the QE report data → QE_REPORT_DATA_MISMATCH (${short(name)})`, () => {
      for (const at of [l.attKeyAt, l.attKeyAt + 40, l.attKeyAt + 63]) reject(at, 'QE_REPORT_DATA_MISMATCH');
    });

    test(`QE report is signed by the PCK key → QE_REPORT_SIGNATURE_INVALID (${short(name)})`, () => {
      // cpuSvn @0, mrEnclave @64, isvSvn @258, reportData @320 and its zero half @352.
      for (const at of [0, 64, 258, 320, 360]) reject(l.qeReportAt + at, 'QE_REPORT_SIGNATURE_INVALID');
    });

    test(`QE report signature → QE_REPORT_SIGNATURE_INVALID (${short(name)})`, () => {
      for (const at of [l.qeReportSigAt, l.qeReportSigAt + 32, l.qeReportSigAt + 63])
        reject(at, 'QE_REPORT_SIGNATURE_INVALID');
    });

    test(`QE auth data is bound by the QE report data → QE_REPORT_DATA_MISMATCH (${short(name)})`, () => {
      assert.ok(l.certTypeAt > l.authAt, 'precondition: the vector has QE auth data');
      for (const at of [l.authAt, l.certTypeAt - 1]) reject(at, 'QE_REPORT_DATA_MISMATCH');
    });

    test(`a base64 character inside the PCK certificate's signature (PEM stays well-formed) → CERT_CHAIN_INVALID (${short(name)})`, () => {
      const pem = pemOf(q);
      const begin = '-----BEGIN CERTIFICATE-----';
      const bodyAt = pem.indexOf(begin) + begin.length;
      const bodyEnd = pem.indexOf('-----END CERTIFICATE-----', bodyAt);
      const positions = [...pem.slice(bodyAt, bodyEnd)].flatMap((c, i) =>
        /[A-Za-z0-9+/]/.test(c) ? [bodyAt + i] : [],
      );
      const leaf = pemDers(pem)[0] as Uint8Array;
      const s = signatureS(leaf);
      // Base64 character 1 of the group holding DER bytes g, g+1, g+2 changes bits of bytes g and g+1 only.
      const g = Math.floor((s.end - 6) / 3) * 3;
      const textAt = positions[(g / 3) * 4 + 1] as number;
      const changed = pem.slice(0, textAt) + (pem[textAt] === 'A' ? 'B' : 'A') + pem.slice(textAt + 1);
      const newLeaf = pemDers(changed)[0] as Uint8Array;
      assert.equal(newLeaf.length, leaf.length);
      const diff = [...newLeaf.keys()].filter((i) => newLeaf[i] !== leaf[i]);
      assert.ok(
        diff.length > 0 && diff.every((i) => i >= s.start && i < s.end),
        'precondition: only the signature s value changes',
      );
      throwsCode(() => verifyAs(name, withCertData(q, changed)), 'CERT_CHAIN_INVALID');
    });
  }
});

/** The quote cut at `cut` with signatureData.size (and the v4/v5 outer certification data size) made consistent with the cut. */
function cutConsistently(q: Uint8Array, cut: number): Uint8Array {
  const l = layout(q);
  let out = patch(q.slice(0, cut), l.sigSizeAt, le32(cut - l.sigAt));
  if (l.outerSizeAt !== undefined && cut >= l.outerSizeAt + 4)
    out = patch(out, l.outerSizeAt, le32(cut - l.qeReportAt));
  return out;
}

describe('truncation', () => {
  for (const name of QUOTES) {
    const q = quoteBytes(name);
    const l = layout(q);

    test(`cut at every structure boundary → QUOTE_TRUNCATED (${short(name)})`, () => {
      const cuts = [
        0,
        1,
        2,
        4,
        8,
        12,
        28,
        47,
        48,
        l.bodyAt,
        l.bodyAt + 1,
        l.signedEnd - 1,
        l.signedEnd,
        l.signedEnd + 2,
        l.sigAt,
        l.attKeyAt,
        l.qeReportAt,
        l.qeReportSigAt,
        l.authSizeAt,
        l.authAt,
        l.certTypeAt,
        l.certSizeAt,
        l.pemAt,
        l.pemAt + 1000,
        l.sigEnd - 1,
      ];
      if (l.version === 5) cuts.push(50, 53);
      if (l.outerTypeAt !== undefined) cuts.push(l.outerTypeAt, l.outerSizeAt as number);
      for (const cut of cuts) throwsCode(() => parseQuote(q.subarray(0, cut)), 'QUOTE_TRUNCATED');
    });

    test(`cut inside the signature data with consistent outer sizes → QUOTE_TRUNCATED naming the cut structure (${short(name)})`, () => {
      const cases: [number, string][] = [
        [l.sigAt, 'signatureData.signature'],
        [l.sigAt + 63, 'signatureData.signature'],
        [l.attKeyAt, 'signatureData.attestationKey'],
        [l.qeReportAt, 'qeReport'],
        [l.qeReportAt + 200, 'qeReport'],
        [l.qeReportSigAt, 'qeReportSignature'],
        [l.authSizeAt, 'qeAuthData.size'],
        [l.authAt, 'qeAuthData'],
        [l.certTypeAt - 1, 'qeAuthData'],
        [l.certTypeAt, 'certificationData.type'],
        [l.certSizeAt, 'certificationData.size'],
        [l.pemAt, 'certificationData'],
        [l.pemAt + 1500, 'certificationData'],
        [l.sigEnd - 1, 'certificationData'],
      ];
      if (l.outerTypeAt !== undefined)
        cases.push(
          [l.outerTypeAt, 'signatureData.certificationData.type'],
          [l.outerSizeAt as number, 'signatureData.certificationData.size'],
        );
      for (const [cut, field] of cases) throwsCode(() => parseQuote(cutConsistently(q, cut)), 'QUOTE_TRUNCATED', field);
    });

    test(`every proper prefix up to the end of the signature data → QUOTE_TRUNCATED; longer prefixes only lose trailing bytes (${short(name)})`, () => {
      const c = prepared(name);
      const now = verifyAt(name);
      for (let cut = 0; cut < l.sigEnd; cut++)
        throwsCode(() => verifier.verify(q.subarray(0, cut), { collateral: c, now }), 'QUOTE_TRUNCATED');
      for (let cut = l.sigEnd; cut <= q.length; cut++)
        assert.equal(verifier.verify(q.subarray(0, cut), { collateral: c, now }).trailingBytes, cut - l.sigEnd);
    });
  }
});

describe('header, body descriptor and certification data rules (parseQuote)', () => {
  const sgx = quoteBytes(SGX_V3);
  const v4 = quoteBytes(TDX_V4);
  const v5 = quoteBytes(TDX_V5);

  test('quote version other than 3, 4, 5 → QUOTE_UNSUPPORTED_VERSION', () => {
    for (const q of [sgx, v4, v5])
      for (const version of [0, 1, 2, 6, 0x103, 0xffff])
        throwsCode(() => parseQuote(patch(q, 0, le16(version))), 'QUOTE_UNSUPPORTED_VERSION');
  });

  test('attestation key type other than 2 (ECDSA-256-with-P-256) → QUOTE_UNSUPPORTED_KEY_TYPE', () => {
    for (const q of [sgx, v4, v5])
      for (const type of [0, 1, 3, 0x102])
        throwsCode(() => parseQuote(patch(q, 2, le16(type))), 'QUOTE_UNSUPPORTED_KEY_TYPE');
  });

  test('TEE type neither SGX (0) nor TDX (0x81) → QUOTE_UNSUPPORTED_TEE_TYPE', () => {
    for (const q of [v4, v5])
      for (const tee of [0x82, 0x80, 0x01, 0x81 + 0x100])
        throwsCode(() => parseQuote(patch(q, 4, le32(tee))), 'QUOTE_UNSUPPORTED_TEE_TYPE');
  });

  test('quote v3 with TEE type TDX (bytes 4..7 reserved, zero) → QUOTE_UNSUPPORTED_TEE_TYPE', () => {
    for (const tee of [0x81, 0x82, 1])
      throwsCode(() => parseQuote(patch(sgx, 4, le32(tee))), 'QUOTE_UNSUPPORTED_TEE_TYPE');
  });

  test("QE vendor id other than Intel's → QUOTE_BAD_QE_VENDOR", () => {
    for (const q of [sgx, v4, v5])
      for (const at of [12, 19, 27]) throwsCode(() => parseQuote(flip(q, at)), 'QUOTE_BAD_QE_VENDOR');
  });

  test('v5 body descriptor with an unknown type → QUOTE_UNSUPPORTED_BODY', () => {
    for (const type of [0, 4, 9, 0xffff])
      throwsCode(() => parseQuote(patch(v5, 48, le16(type))), 'QUOTE_UNSUPPORTED_BODY', 'body.type');
  });

  test('v5 body descriptor type SGX (1) under TEE type TDX → QUOTE_UNSUPPORTED_BODY', () => {
    throwsCode(() => parseQuote(patch(v5, 48, le16(1))), 'QUOTE_UNSUPPORTED_BODY', 'body.type');
  });

  test('v5 body descriptor size that is not the size of its type → QUOTE_UNSUPPORTED_BODY', () => {
    for (const size of [0, 584, 647, 649, 0xffffffff])
      throwsCode(() => parseQuote(patch(v5, 50, le32(size))), 'QUOTE_UNSUPPORTED_BODY', 'body.size');
    // TD 1.0 type (2) with the TD 1.5 size (648).
    throwsCode(() => parseQuote(patch(v5, 48, le16(2))), 'QUOTE_UNSUPPORTED_BODY', 'body.size');
  });

  test('certification data type 4 instead of 5 (PEM PCK chain) → QUOTE_UNSUPPORTED_CERT_DATA', () => {
    for (const q of [sgx, v4, v5])
      for (const type of [1, 4, 6, 7])
        throwsCode(
          () => parseQuote(patch(q, layout(q).certTypeAt, le16(type))),
          'QUOTE_UNSUPPORTED_CERT_DATA',
          'certificationData.type',
        );
  });

  test('v4/v5 outer certification data type 5 instead of 6 (QE report certification data) → QUOTE_UNSUPPORTED_CERT_DATA', () => {
    for (const q of [v4, v5]) {
      for (const type of [5, 4, 7])
        throwsCode(
          () => parseQuote(patch(q, layout(q).outerTypeAt as number, le16(type))),
          'QUOTE_UNSUPPORTED_CERT_DATA',
          'signatureData.certificationData.type',
        );
    }
  });
});

describe('trailing bytes', () => {
  for (const name of QUOTES) {
    const q = quoteBytes(name);
    const l = layout(q);

    test(`signatureData.size one larger than its content (a byte appended) → QUOTE_TRAILING_BYTES (${short(name)})`, () => {
      const grown = patch(concat(q, new Uint8Array([0])), l.sigSizeAt, le32(u32(q, l.sigSizeAt) + 1));
      throwsCode(() => parseQuote(grown), 'QUOTE_TRAILING_BYTES', 'signatureData');
    });

    if (l.outerSizeAt !== undefined) {
      test(`outer certification data one byte longer than the QE report certification data → QUOTE_TRAILING_BYTES (${short(name)})`, () => {
        let grown = concat(q.subarray(0, l.sigEnd), new Uint8Array([0]), q.subarray(l.sigEnd));
        grown = patch(grown, l.sigSizeAt, le32(u32(q, l.sigSizeAt) + 1));
        grown = patch(grown, l.outerSizeAt as number, le32(u32(q, l.outerSizeAt as number) + 1));
        throwsCode(() => parseQuote(grown), 'QUOTE_TRAILING_BYTES', 'signatureData.certificationData');
      });
    }

    test(`bytes after the signature data are not interpreted, only counted (${short(name)})`, () => {
      const baseline = verifyAs(name, q);
      const extended = verifyAs(name, concat(q, new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00])));
      assert.equal(extended.trailingBytes, baseline.trailingBytes + 5);
      assert.deepEqual({ ...extended, trailingBytes: 0 }, { ...baseline, trailingBytes: 0 });
    });
  }

  test('a non-PEM byte appended inside the v3 certification data → PEM_MALFORMED', () => {
    const q = quoteBytes(SGX_V3);
    throwsCode(
      () => verifyAs(SGX_V3, withCertData(q, concat(split(q).certData, new Uint8Array([0x58])))),
      'PEM_MALFORMED',
    );
  });
});

/** `text` with the first occurrence of `from` replaced by `to` (which must occur). */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  assert.ok(at >= 0, `precondition: "${from}" occurs`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

function flipHex(hex: string, at: number): string {
  return hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
}

describe('collateral signatures (prepare)', () => {
  test('TCB info with one status upgraded (still valid JSON and a valid TCB info) → COLLATERAL_INVALID', () => {
    const c = collateralJson(SGX_V3);
    c['tcb_info'] = replaceOnce(c['tcb_info'] as string, '"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"');
    parseTcbInfo(c['tcb_info']);
    throwsCode(() => verifier.prepare(c), 'COLLATERAL_INVALID');
  });

  test('TCB info with one character changed (tcbEvaluationDataNumber 17 → 18) → COLLATERAL_INVALID', () => {
    for (const name of QUOTES) {
      const c = collateralJson(name);
      const text = c['tcb_info'] as string;
      const at = text.indexOf('"tcbEvaluationDataNumber":') + '"tcbEvaluationDataNumber":'.length + 1;
      c['tcb_info'] = text.slice(0, at) + String((Number(text[at]) + 1) % 10) + text.slice(at + 1);
      parseTcbInfo(c['tcb_info']);
      throwsCode(() => verifier.prepare(c), 'COLLATERAL_INVALID');
    }
  });

  test('TCB info re-serialised (same JSON value, other text) → COLLATERAL_INVALID', () => {
    const c = collateralJson(TDX_V4);
    c['tcb_info'] = JSON.stringify(JSON.parse(c['tcb_info'] as string), null, 1);
    throwsCode(() => verifier.prepare(c), 'COLLATERAL_INVALID');
  });

  test('QE identity with one character changed (UpToDate threshold isvsvn 8 → 1) → COLLATERAL_INVALID', () => {
    const c = collateralJson(SGX_V3);
    c['qe_identity'] = replaceOnce(c['qe_identity'] as string, '{"tcb":{"isvsvn":8}', '{"tcb":{"isvsvn":1}');
    parseQeIdentity(c['qe_identity']);
    throwsCode(() => verifier.prepare(c), 'COLLATERAL_INVALID');
  });

  test('QE identity with a status upgraded → COLLATERAL_INVALID', () => {
    const c = collateralJson(SGX_V3);
    c['qe_identity'] = replaceOnce(c['qe_identity'] as string, '"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"');
    parseQeIdentity(c['qe_identity']);
    throwsCode(() => verifier.prepare(c), 'COLLATERAL_INVALID');
  });

  test('tcb_info_signature with one bit changed (r and s) → COLLATERAL_INVALID', () => {
    for (const at of [0, 63, 64, 127]) {
      const c = collateralJson(SGX_V3);
      c['tcb_info_signature'] = flipHex(c['tcb_info_signature'] as string, at);
      throwsCode(() => verifier.prepare(c), 'COLLATERAL_INVALID');
    }
  });

  test('qe_identity_signature with one bit changed → COLLATERAL_INVALID', () => {
    for (const at of [0, 127]) {
      const c = collateralJson(TDX_V5);
      c['qe_identity_signature'] = flipHex(c['qe_identity_signature'] as string, at);
      throwsCode(() => verifier.prepare(c), 'COLLATERAL_INVALID');
    }
  });

  test('TCB info and QE identity signatures swapped → COLLATERAL_INVALID', () => {
    const c = collateralJson(SGX_V3);
    [c['tcb_info_signature'], c['qe_identity_signature']] = [
      c['qe_identity_signature'] as string,
      c['tcb_info_signature'] as string,
    ];
    throwsCode(() => verifier.prepare(c), 'COLLATERAL_INVALID');
  });

  test('a signature that is not 64 bytes of hex → COLLATERAL_MALFORMED', () => {
    for (const bad of ['', 'zz', '00'.repeat(63), '00'.repeat(65)]) {
      const c = collateralJson(SGX_V3);
      c['tcb_info_signature'] = bad;
      throwsCode(() => verifier.prepare(c), 'COLLATERAL_MALFORMED');
    }
  });
});

describe('collateral chains (prepare)', () => {
  test('tcb_info_issuer_chain replaced by the PCK CRL issuer chain (a CA without digitalSignature) → CERT_CHAIN_INVALID or COLLATERAL_INVALID', () => {
    const c = collateralJson(SGX_V3);
    c['tcb_info_issuer_chain'] = c['pck_crl_issuer_chain'] as string;
    throwsCode(() => verifier.prepare(c), ['CERT_CHAIN_INVALID', 'COLLATERAL_INVALID']);
  });

  test('qe_identity_issuer_chain replaced by the PCK CRL issuer chain → CERT_CHAIN_INVALID or COLLATERAL_INVALID', () => {
    const c = collateralJson(TDX_V4);
    c['qe_identity_issuer_chain'] = c['pck_crl_issuer_chain'] as string;
    throwsCode(() => verifier.prepare(c), ['CERT_CHAIN_INVALID', 'COLLATERAL_INVALID']);
  });

  test('tcb_info_issuer_chain ending at a generated self-signed "Intel SGX Root CA" → UNTRUSTED_ROOT', () => {
    const c = collateralJson(SGX_V3);
    const [tcbSigner] = pemDers(c['tcb_info_issuer_chain'] as string);
    c['tcb_info_issuer_chain'] = toPem(tcbSigner as Uint8Array, simulatedPki(SGX_V3).root);
    throwsCode(() => verifier.prepare(c), 'UNTRUSTED_ROOT');
  });

  test('pck_crl_issuer_chain ending at a generated self-signed "Intel SGX Root CA" → UNTRUSTED_ROOT', () => {
    const c = collateralJson(TDX_V4);
    const [ca] = pemDers(c['pck_crl_issuer_chain'] as string);
    c['pck_crl_issuer_chain'] = toPem(ca as Uint8Array, simulatedPki(TDX_V4).root);
    throwsCode(() => verifier.prepare(c), 'UNTRUSTED_ROOT');
  });

  test('an empty issuer chain → PEM_MALFORMED', () => {
    for (const key of ['tcb_info_issuer_chain', 'qe_identity_issuer_chain', 'pck_crl_issuer_chain']) {
      const c = collateralJson(SGX_V3);
      c[key] = '';
      throwsCode(() => verifier.prepare(c), 'PEM_MALFORMED');
    }
  });

  // Intel QVL TCBSigningChain::verify: the signer must be the "Intel SGX TCB Signing" certificate issued by the root
  // (STATUS_SGX_TCB_SIGNING_CERT_MISSING otherwise). A PCK key lives in a platform, and may leak; it must not sign collateral.
  test("TCB info signed by a PCK certificate's key (chain PCK, PCK CA, root) is refused (simulated PKI)", () => {
    const sim = simulatedPki(SGX_V3);
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    const tcbInfo = replaceOnce(
      collateralJson(SGX_V3)['tcb_info'] as string,
      '"tcbStatus":"ConfigurationAndSWHardeningNeeded"',
      '"tcbStatus":"UpToDate"',
    );
    const c = sim.collateral({
      tcbInfo,
      tcbInfoKey: sim.keys.pck.privateKey,
      tcbInfoChain: toPem(sim.pck, sim.ca, sim.root),
    });
    throwsCode(() => simVerifier.prepare(c), ['CERT_CHAIN_INVALID', 'COLLATERAL_INVALID']);
  });

  test("QE identity signed by a PCK certificate's key (chain PCK, PCK CA, root) is refused (simulated PKI)", () => {
    const sim = simulatedPki(SGX_V3);
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    const c = sim.collateral({
      qeIdentityKey: sim.keys.pck.privateKey,
      qeIdentityChain: toPem(sim.pck, sim.ca, sim.root),
    });
    throwsCode(() => simVerifier.prepare(c), ['CERT_CHAIN_INVALID', 'COLLATERAL_INVALID']);
  });
});

function crlHexWithFlippedSignature(hex: string): string {
  const crl = new Uint8Array(Buffer.from(hex, 'hex'));
  const s = signatureS(crl);
  return Buffer.from(flip(crl, s.end - 3)).toString('hex');
}

describe('CRLs', () => {
  test('PCK CRL with a changed signature byte → CRL_INVALID at prepare', () => {
    for (const name of QUOTES) {
      const c = collateralJson(name);
      c['pck_crl'] = crlHexWithFlippedSignature(c['pck_crl'] as string);
      throwsCode(() => verifier.prepare(c), 'CRL_INVALID');
    }
  });

  test('root CA CRL with a changed signature byte → CRL_INVALID at prepare', () => {
    const c = collateralJson(SGX_V3);
    c['root_ca_crl'] = crlHexWithFlippedSignature(c['root_ca_crl'] as string);
    throwsCode(() => verifier.prepare(c), 'CRL_INVALID');
  });

  test('garbage, empty, odd-length and non-hex pck_crl → CRL_INVALID', () => {
    for (const bad of ['deadbeef', '', '3', 'zz', '30', '3000', '300a' + '00'.repeat(10)]) {
      const c = collateralJson(SGX_V3);
      c['pck_crl'] = bad;
      throwsCode(() => verifier.prepare(c), 'CRL_INVALID');
    }
  });

  test('the root CA CRL given as the PCK CRL and vice versa → CRL_INVALID', () => {
    const c = collateralJson(SGX_V3);
    [c['pck_crl'], c['root_ca_crl']] = [c['root_ca_crl'] as string, c['pck_crl'] as string];
    throwsCode(() => verifier.prepare(c), 'CRL_INVALID');
  });

  test('a genuine but stale Processor CA CRL (2023) → CRL_EXPIRED at verification', () => {
    const c = collateralJson(SGX_V3);
    c['pck_crl'] = Buffer.from(vectorBytes(STALE_PROCESSOR_CRL)).toString('hex');
    const collateral = verifier.prepare(c);
    assert.ok(collateral.pckCrl.nextUpdate < verifyAt(SGX_V3), 'precondition: stale at verify_at');
    throwsCode(() => verifier.verify(quoteBytes(SGX_V3), { collateral, now: verifyAt(SGX_V3) }), 'CRL_EXPIRED');
  });

  test('the Platform CA CRL (with its chain) for a PCK issued by the Processor CA → CRL_INVALID', () => {
    const c = collateralJson(SGX_V3);
    const tdx = collateralJson(TDX_V4);
    c['pck_crl'] = tdx['pck_crl'] as string;
    c['pck_crl_issuer_chain'] = tdx['pck_crl_issuer_chain'] as string;
    const collateral = verifier.prepare(c);
    throwsCode(() => verifier.verify(quoteBytes(SGX_V3), { collateral, now: verifyAt(SGX_V3) }), 'CRL_INVALID');
  });

  test('the Platform CA CRL with the Processor CA chain → CRL_INVALID at prepare', () => {
    const c = collateralJson(SGX_V3);
    c['pck_crl'] = collateralJson(TDX_V4)['pck_crl'] as string;
    throwsCode(() => verifier.prepare(c), 'CRL_INVALID');
  });

  test('PCK certificate listed in the PCK CRL → CERT_REVOKED (simulated PKI)', () => {
    for (const name of [SGX_V3, TDX_V4]) {
      const sim = simulatedPki(name);
      const simVerifier = new DcapVerifier(customRoot(sim.root));
      const collateral = simVerifier.prepare(sim.collateral({ pckCrlRevoked: [serialContent('01'), sim.pckSerial] }));
      throwsCode(() => simVerifier.verify(sim.quote(), { collateral, now: verifyAt(name) }), 'CERT_REVOKED');
    }
  });

  test('PCK certificate re-issued with a serial the genuine Platform CA CRL revokes → CERT_REVOKED (simulated PKI)', () => {
    const sim = simulatedPki(TDX_V4);
    const revoked = [...prepared(TDX_V4).pckCrl.revoked][0] as string;
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    const collateral = simVerifier.prepare(sim.collateral());
    const quote = sim.quote({ pck: sim.reissuePck({ serial: serialContent(revoked) }) });
    throwsCode(() => simVerifier.verify(quote, { collateral, now: verifyAt(TDX_V4) }), 'CERT_REVOKED');
  });

  test('PCK CA listed in the root CA CRL → CERT_REVOKED (simulated PKI)', () => {
    const sim = simulatedPki(SGX_V3);
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    const collateral = simVerifier.prepare(sim.collateral({ rootCaCrlRevoked: [sim.caSerial] }));
    throwsCode(() => simVerifier.verify(sim.quote(), { collateral, now: verifyAt(SGX_V3) }), 'CERT_REVOKED');
  });

  test('TCB Signing certificate listed in the root CA CRL → CERT_REVOKED (simulated PKI)', () => {
    const sim = simulatedPki(TDX_V5);
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    const collateral = simVerifier.prepare(sim.collateral({ rootCaCrlRevoked: [sim.tcbSignerSerial] }));
    throwsCode(() => simVerifier.verify(sim.quote(), { collateral, now: verifyAt(TDX_V5) }), 'CERT_REVOKED');
  });
});

describe('time', () => {
  for (const name of QUOTES) {
    const q = quoteBytes(name);

    test(`collateral used a day before its window and a second after it → fails with a time code (${short(name)})`, () => {
      const w = collateralWindow(prepared(name));
      assert.ok(
        w.notBefore <= verifyAt(name) && verifyAt(name) <= w.notAfter,
        'precondition: verify_at inside the window',
      );
      verifyAs(name, q, w.notBefore);
      verifyAs(name, q, w.notAfter);
      throwsCode(() => verifyAs(name, q, w.notBefore - DAY), TIME_CODES);
      throwsCode(() => verifyAs(name, q, w.notBefore - 1), TIME_CODES);
      throwsCode(() => verifyAs(name, q, w.notAfter + 1), TIME_CODES);
    });
  }

  /** Every time bound of prepared collateral but one document's, with the PCK chain's. */
  function otherBounds(
    c: PreparedCollateral,
    except: 'tcbInfo' | 'qeIdentity' | 'pckCrl',
    pckChain: { notBefore: number; notAfter: number }[],
  ) {
    const certs = [...c.tcbInfoChain, ...c.qeIdentityChain, ...c.pckCrlChain, ...pckChain];
    const items = [
      ...(except === 'tcbInfo' ? [] : [{ from: c.tcbInfo.issueDate, to: c.tcbInfo.nextUpdate }]),
      ...(except === 'qeIdentity' ? [] : [{ from: c.qeIdentity.issueDate, to: c.qeIdentity.nextUpdate }]),
      ...(except === 'pckCrl' ? [] : [{ from: c.pckCrl.thisUpdate, to: c.pckCrl.nextUpdate }]),
      { from: c.rootCaCrl.thisUpdate, to: c.rootCaCrl.nextUpdate },
      ...certs.map((x) => ({ from: x.notBefore, to: x.notAfter })),
    ];
    return { from: Math.max(...items.map((i) => i.from)), to: Math.min(...items.map((i) => i.to)) };
  }

  const pckChainOf = (name: string) => pckChainValidity(quoteBytes(name));

  test('TCB info past its nextUpdate while CRLs, certificates and QE identity are current → COLLATERAL_EXPIRED', () => {
    const name = TDX_V4_OTHER_FMSPC;
    const c = prepared(name);
    const rest = otherBounds(c, 'tcbInfo', pckChainOf(name));
    assert.ok(
      c.tcbInfo.nextUpdate + 1 <= rest.to && c.tcbInfo.nextUpdate + 1 >= rest.from,
      'precondition: only the TCB info has expired',
    );
    throwsCode(() => verifyAs(name, quoteBytes(name), c.tcbInfo.nextUpdate + 1), 'COLLATERAL_EXPIRED');
  });

  test('QE identity past its nextUpdate while CRLs, certificates and TCB info are current → COLLATERAL_EXPIRED', () => {
    const c = prepared(SGX_V3);
    const rest = otherBounds(c, 'qeIdentity', pckChainOf(SGX_V3));
    assert.ok(
      c.qeIdentity.nextUpdate + 1 <= rest.to && c.qeIdentity.nextUpdate + 1 >= rest.from,
      'precondition: only the QE identity has expired',
    );
    throwsCode(() => verifyAs(SGX_V3, quoteBytes(SGX_V3), c.qeIdentity.nextUpdate + 1), 'COLLATERAL_EXPIRED');
  });

  test('TCB info before its issueDate while everything else is current → COLLATERAL_EXPIRED', () => {
    const c = prepared(SGX_V3);
    const rest = otherBounds(c, 'tcbInfo', pckChainOf(SGX_V3));
    assert.ok(
      c.tcbInfo.issueDate - 1 >= rest.from && c.tcbInfo.issueDate - 1 <= rest.to,
      'precondition: only the TCB info is not yet valid',
    );
    throwsCode(() => verifyAs(SGX_V3, quoteBytes(SGX_V3), c.tcbInfo.issueDate - 1), 'COLLATERAL_EXPIRED');
  });

  test('PCK CRL past its nextUpdate while the TCB info and QE identity are current → CRL_EXPIRED', () => {
    const c = prepared(TDX_V4);
    const rest = otherBounds(c, 'pckCrl', pckChainOf(TDX_V4));
    assert.ok(
      c.pckCrl.nextUpdate + 1 <= rest.to && c.pckCrl.nextUpdate + 1 >= rest.from,
      'precondition: only the PCK CRL has expired',
    );
    throwsCode(() => verifyAs(TDX_V4, quoteBytes(TDX_V4), c.pckCrl.nextUpdate + 1), 'CRL_EXPIRED');
  });

  test('PCK certificate before its notBefore → CERT_NOT_YET_VALID; after its notAfter → CERT_EXPIRED', () => {
    for (const name of QUOTES) {
      const [leaf] = pckChainOf(name);
      assert.ok(leaf);
      throwsCode(() => verifyAs(name, quoteBytes(name), leaf.notBefore - 1), 'CERT_NOT_YET_VALID');
      throwsCode(() => verifyAs(name, quoteBytes(name), leaf.notAfter + 1), 'CERT_EXPIRED');
    }
  });
});

/** Intersection of windows. */
function intersect(...ws: { notBefore: number; notAfter: number }[]) {
  return { notBefore: Math.max(...ws.map((w) => w.notBefore)), notAfter: Math.min(...ws.map((w) => w.notAfter)) };
}

describe('collateral of another quote', () => {
  test('SGX TCB info and QE identity for a TDX quote (PCK CRL of its CA) → COLLATERAL_MISMATCH', () => {
    const c = collateralJson(SGX_V3);
    const tdx = collateralJson(TDX_V4);
    c['pck_crl'] = tdx['pck_crl'] as string;
    c['pck_crl_issuer_chain'] = tdx['pck_crl_issuer_chain'] as string;
    const collateral = verifier.prepare(c);
    const w = intersect(collateralWindow(collateral), ...pckChainValidity(quoteBytes(TDX_V4)));
    assert.ok(
      w.notBefore <= verifyAt(TDX_V4) && verifyAt(TDX_V4) <= w.notAfter,
      'precondition: the composed collateral is current',
    );
    throwsCode(() => verifier.verify(quoteBytes(TDX_V4), { collateral, now: verifyAt(TDX_V4) }), 'COLLATERAL_MISMATCH');
  });

  test('the SGX collateral set as is for a TDX quote → refused (its PCK CRL is of the other CA)', () => {
    throwsCode(
      () => verifier.verify(quoteBytes(TDX_V4), { collateral: prepared(SGX_V3), now: verifyAt(TDX_V4) }),
      ['CRL_INVALID', 'COLLATERAL_MISMATCH'],
    );
  });

  test('TDX TCB info and QE identity for an SGX quote (PCK CRL of its CA) → COLLATERAL_MISMATCH', () => {
    const c = collateralJson(TDX_V4);
    const sgx = collateralJson(SGX_V3);
    c['pck_crl'] = sgx['pck_crl'] as string;
    c['pck_crl_issuer_chain'] = sgx['pck_crl_issuer_chain'] as string;
    const collateral = verifier.prepare(c);
    const w = collateralWindow(collateral);
    assert.ok(
      w.notBefore <= verifyAt(SGX_V3) && verifyAt(SGX_V3) <= w.notAfter,
      'precondition: the composed collateral is current',
    );
    throwsCode(() => verifier.verify(quoteBytes(SGX_V3), { collateral, now: verifyAt(SGX_V3) }), 'COLLATERAL_MISMATCH');
  });

  test('a TD_QE identity for an SGX quote → COLLATERAL_MISMATCH', () => {
    const c = collateralJson(SGX_V3);
    const tdx = collateralJson(TDX_V4);
    for (const k of ['qe_identity', 'qe_identity_signature', 'qe_identity_issuer_chain']) c[k] = tdx[k] as string;
    const collateral = verifier.prepare(c);
    throwsCode(() => verifier.verify(quoteBytes(SGX_V3), { collateral, now: verifyAt(SGX_V3) }), 'COLLATERAL_MISMATCH');
  });

  test('an SGX QE identity for a TDX quote → COLLATERAL_MISMATCH', () => {
    const c = collateralJson(TDX_V4);
    const sgx = collateralJson(SGX_V3);
    for (const k of ['qe_identity', 'qe_identity_signature', 'qe_identity_issuer_chain']) c[k] = sgx[k] as string;
    const collateral = verifier.prepare(c);
    throwsCode(() => verifier.verify(quoteBytes(TDX_V4), { collateral, now: verifyAt(TDX_V4) }), 'COLLATERAL_MISMATCH');
  });

  test('TDX collateral of another FMSPC, at a time inside both windows → COLLATERAL_MISMATCH', () => {
    const other = prepared(TDX_V4_OTHER_FMSPC);
    const q = quoteBytes(TDX_V4);
    assert.notDeepEqual(other.tcbInfo.fmspc, prepared(TDX_V4).tcbInfo.fmspc);
    const w = intersect(collateralWindow(other), collateralWindow(prepared(TDX_V4)), ...pckChainValidity(q));
    assert.ok(w.notBefore <= w.notAfter, 'precondition: the windows overlap');
    const now = Math.floor((w.notBefore + w.notAfter) / 2);
    verifyAs(TDX_V4, q, now);
    throwsCode(() => verifier.verify(q, { collateral: other, now }), 'COLLATERAL_MISMATCH');
  });

  test('PCK certificate re-issued with another FMSPC → COLLATERAL_MISMATCH (simulated PKI)', () => {
    const sim = simulatedPki(SGX_V3);
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    const collateral = simVerifier.prepare(sim.collateral());
    // FMSPC: SEQUENCE { OID 1.2.840.113741.1.13.1.4, OCTET STRING (6) } (PCK Certificate and CRL Profile §1.3.5).
    const fmspcOid = new Uint8Array(Buffer.from('060a2a864886f84d010d0104', 'hex'));
    const pck = sim.reissuePck({
      editTbs: (tbs) => {
        const at = indexOf(tbs, fmspcOid);
        assert.ok(at > 0);
        const i = at + fmspcOid.length + 2 + 5;
        tbs[i] = (tbs[i] ?? 0) ^ 0x01;
      },
    });
    throwsCode(
      () => simVerifier.verify(sim.quote({ pck }), { collateral, now: verifyAt(SGX_V3) }),
      'COLLATERAL_MISMATCH',
    );
  });

  test('PCK certificate re-issued with another PCEID → COLLATERAL_MISMATCH (simulated PKI)', () => {
    const sim = simulatedPki(TDX_V5);
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    const collateral = simVerifier.prepare(sim.collateral());
    const pceIdOid = new Uint8Array(Buffer.from('060a2a864886f84d010d0103', 'hex'));
    const pck = sim.reissuePck({
      editTbs: (tbs) => {
        const at = indexOf(tbs, pceIdOid);
        assert.ok(at > 0);
        const i = at + pceIdOid.length + 2 + 1;
        tbs[i] = (tbs[i] ?? 0) ^ 0x01;
      },
    });
    throwsCode(
      () => simVerifier.verify(sim.quote({ pck }), { collateral, now: verifyAt(TDX_V5) }),
      'COLLATERAL_MISMATCH',
    );
  });

  test('PCK certificate without the SGX extension → PCK_EXTENSION_INVALID (simulated PKI)', () => {
    const sim = simulatedPki(SGX_V3);
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    const collateral = simVerifier.prepare(sim.collateral());
    // The extension id 1.2.840.113741.1.13.1 becomes 1.2.840.113741.1.13.2 (not critical, so merely unknown).
    const sgxExtOid = new Uint8Array(Buffer.from('06092a864886f84d010d01', 'hex'));
    const pck = sim.reissuePck({
      editTbs: (tbs) => {
        const at = indexOf(tbs, sgxExtOid);
        assert.ok(at > 0);
        tbs[at + sgxExtOid.length - 1] = 0x02;
      },
    });
    throwsCode(
      () => simVerifier.verify(sim.quote({ pck }), { collateral, now: verifyAt(SGX_V3) }),
      'PCK_EXTENSION_INVALID',
    );
  });
});

describe('missing collateral and TEE expectations', () => {
  test('a quote with no collateral (none exists for its FMSPC) → COLLATERAL_MISSING after its signatures verify', () => {
    throwsCode(() => verifier.verify(quoteBytes(MOBILECOIN), { now: MOBILECOIN_AT }), 'COLLATERAL_MISSING');
    // The same quote with a broken QE report signature fails on the signature first: collateral is looked at last.
    throwsCode(
      () =>
        verifier.verify(flip(quoteBytes(MOBILECOIN), layout(quoteBytes(MOBILECOIN)).qeReportSigAt), {
          now: MOBILECOIN_AT,
        }),
      'QE_REPORT_SIGNATURE_INVALID',
    );
  });

  test('a real quote whose collateral is left out → COLLATERAL_MISSING', () => {
    for (const name of QUOTES)
      throwsCode(
        () => verifier.verify(quoteBytes(name), { now: verifyAt(name), collateral: undefined }),
        'COLLATERAL_MISSING',
      );
  });

  test('tee option "tdx" for an SGX quote and "sgx" for a TDX quote → QUOTE_UNSUPPORTED_TEE_TYPE', () => {
    throwsCode(
      () => verifier.verify(quoteBytes(SGX_V3), { collateral: prepared(SGX_V3), now: verifyAt(SGX_V3), tee: 'tdx' }),
      'QUOTE_UNSUPPORTED_TEE_TYPE',
    );
    for (const name of [TDX_V4, TDX_V5])
      throwsCode(
        () => verifier.verify(quoteBytes(name), { collateral: prepared(name), now: verifyAt(name), tee: 'sgx' }),
        'QUOTE_UNSUPPORTED_TEE_TYPE',
      );
  });

  test('collateral prepared for another trust root → COLLATERAL_INVALID (simulated PKI)', () => {
    const sim = simulatedPki(SGX_V3);
    const simVerifier = new DcapVerifier(customRoot(sim.root));
    throwsCode(
      () => simVerifier.verify(sim.quote(), { collateral: prepared(SGX_V3), now: verifyAt(SGX_V3) }),
      'COLLATERAL_INVALID',
    );
  });
});

describe('PCK certificate chain in the quote', () => {
  for (const name of QUOTES) {
    const q = quoteBytes(name);
    const [pck, ca, root] = pemDers(pemOf(q)) as [Uint8Array, Uint8Array, Uint8Array];

    test(`PCK certificate alone (PCK CA and root dropped) → UNTRUSTED_ROOT (${short(name)})`, () => {
      throwsCode(() => verifyAs(name, withCertData(q, toPem(pck))), 'UNTRUSTED_ROOT');
    });

    test(`chain ending at a generated self-signed "Intel SGX Root CA" (a complete simulated chain) → UNTRUSTED_ROOT (${short(name)})`, () => {
      throwsCode(() => verifyAs(name, simulatedPki(name).quote()), 'UNTRUSTED_ROOT');
    });

    test(`PCK CA dropped (PCK, root) → CERT_CHAIN_INVALID (${short(name)})`, () => {
      throwsCode(() => verifyAs(name, withCertData(q, toPem(pck, root))), 'CERT_CHAIN_INVALID');
    });

    test(`PCK certificate dropped (PCK CA, root) → CERT_CHAIN_INVALID (${short(name)})`, () => {
      throwsCode(() => verifyAs(name, withCertData(q, toPem(ca, root))), 'CERT_CHAIN_INVALID');
    });

    test(`PCK CA re-keyed (same name) under the genuine root → CERT_CHAIN_INVALID (${short(name)})`, () => {
      const sim = simulatedPki(name);
      throwsCode(() => verifyAs(name, sim.quote({ pem: toPem(sim.pck, sim.ca, root) })), 'CERT_CHAIN_INVALID');
    });

    test(`PCK chain in the wrong order (root, PCK CA, PCK) → refused (${short(name)})`, () => {
      throwsCode(() => verifyAs(name, withCertData(q, toPem(root, ca, pck))), ['UNTRUSTED_ROOT', 'CERT_CHAIN_INVALID']);
    });
  }

  test('a PEM block that is not a CERTIFICATE → PEM_MALFORMED', () => {
    const q = quoteBytes(SGX_V3);
    throwsCode(
      () =>
        verifyAs(
          SGX_V3,
          withCertData(
            q,
            pemOf(q).replace('BEGIN CERTIFICATE', 'BEGIN X509 CRL').replace('END CERTIFICATE', 'END X509 CRL'),
          ),
        ),
      'PEM_MALFORMED',
    );
  });

  // RFC 7468 §3: PEM is ASCII; only SP, HTAB, CR, LF, VT and FF are whitespace. The quote's PEM bytes are
  // read as latin1, and a JavaScript \s also matches U+00A0 (byte 0xA0).
  test('a non-ASCII byte (0xA0, no-break space) inside the PEM base64 → PEM_MALFORMED', () => {
    const q = quoteBytes(SGX_V3);
    const l = layout(q);
    const at = indexOf(q, new Uint8Array([0x0a]), l.pemAt + 40);
    assert.ok(at > l.pemAt && at < l.sigEnd);
    throwsCode(() => verifyAs(SGX_V3, patch(q, at, [0xa0])), 'PEM_MALFORMED');
  });
});

describe('QE identity (simulated PKI: QE reports Intel never signed)', () => {
  // SGX REPORTBODY offsets: miscSelect @16, attributes @48, mrSigner @128, isvProdId @256, isvSvn @258.
  const cases: [string, (r: Uint8Array) => void][] = [
    [
      'miscSelect outside the identity',
      (r) => {
        r[16] = (r[16] ?? 0) ^ 0x01;
      },
    ],
    [
      'attributes with DEBUG set (a masked bit)',
      (r) => {
        r[48] = (r[48] ?? 0) | 0x02;
      },
    ],
    [
      'another mrSigner',
      (r) => {
        r[128] = (r[128] ?? 0) ^ 0x01;
      },
    ],
    [
      'another isvProdId',
      (r) => {
        r[256] = (r[256] ?? 0) ^ 0x04;
      },
    ],
  ];
  for (const name of [SGX_V3, TDX_V4]) {
    for (const [what, edit] of cases) {
      test(`QE report with ${what} → QE_IDENTITY_MISMATCH (${short(name)})`, () => {
        const sim = simulatedPki(name);
        const simVerifier = new DcapVerifier(customRoot(sim.root));
        const collateral = simVerifier.prepare(sim.collateral());
        throwsCode(
          () => simVerifier.verify(sim.quote({ editQeReport: edit }), { collateral, now: verifyAt(name) }),
          'QE_IDENTITY_MISMATCH',
        );
      });
    }

    test(`QE isvSvn below every level of the QE identity → TCB_NOT_SUPPORTED (${short(name)})`, () => {
      const sim = simulatedPki(name);
      const simVerifier = new DcapVerifier(customRoot(sim.root));
      const collateral = simVerifier.prepare(sim.collateral());
      const lowest = Math.min(...collateral.qeIdentity.tcbLevels.map((l) => l.isvSvn));
      assert.ok(lowest > 0, 'precondition: isvsvn 0 is below every level');
      throwsCode(
        () =>
          simVerifier.verify(sim.quote({ editQeReport: (r) => r.set(le16(0), 258) }), {
            collateral,
            now: verifyAt(name),
          }),
        'TCB_NOT_SUPPORTED',
      );
    });
  }
});

describe('TDX module and TCB levels', () => {
  // TD report body offsets: teeTcbSvn @0, mrSignerSeam @64, seamAttributes @112.
  const body = (name: string) => layout(quoteBytes(name)).bodyAt;
  for (const name of [TDX_V4, TDX_V5]) {
    const run = (edit: (signed: Uint8Array) => void) => {
      const sim = simulatedPki(name);
      const simVerifier = new DcapVerifier(customRoot(sim.root));
      return () =>
        simVerifier.verify(sim.quote({ editSigned: edit }), {
          collateral: simVerifier.prepare(sim.collateral()),
          now: verifyAt(name),
        });
    };

    test(`MRSIGNERSEAM not the module identity's → TDX_MODULE_MISMATCH (${short(name)})`, () => {
      throwsCode(
        run((s) => {
          s[body(name) + 64] = 0x01;
        }),
        'TDX_MODULE_MISMATCH',
      );
    });

    test(`SEAMATTRIBUTES non-zero → TDX_MODULE_MISMATCH (${short(name)})`, () => {
      throwsCode(
        run((s) => {
          s[body(name) + 112] = 0x01;
        }),
        'TDX_MODULE_MISMATCH',
      );
    });

    test(`TEE_TCB_SVN naming a TDX module major version without a module identity (TDX_02) → TDX_MODULE_MISMATCH (${short(name)})`, () => {
      throwsCode(
        run((s) => {
          s[body(name) + 1] = 0x02;
        }),
        'TDX_MODULE_MISMATCH',
      );
    });
  }

  test('no TCB level matches the platform → TCB_NOT_SUPPORTED (real collateral)', () => {
    throwsCode(() => verifyAs(TDX_V5_TCB_NOT_SUPPORTED, quoteBytes(TDX_V5_TCB_NOT_SUPPORTED)), 'TCB_NOT_SUPPORTED');
  });
});
