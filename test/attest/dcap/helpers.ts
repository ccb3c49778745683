import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { CloisterError, type ErrorCode } from '../../../src/lib/errors.js';

/**
 * Shared helpers of the DCAP tests: vector loaders, an independent reader/writer of the quote
 * layout (so that tests cut and patch quotes without trusting the parser under test), a minimal
 * DER walker and builder, and a simulated Intel PKI (the real certificates re-keyed and re-signed
 * with keys generated here) for rules that need content Intel never signed.
 */

/** dist/test/attest/dcap/*.js → test/vectors/ (the repository's own copy, with provenance). */
export const VECTORS = new URL('../../../../test/vectors/', import.meta.url);

export const SGX_V3 = 'sgx/phala-sgx-v3-processor-00a067110000';
export const TDX_V4 = 'tdx/phala-tdx-v4-b0c06f000000-uptodate';
export const TDX_V5 = 'tdx/gotdx-tdx-v5-90c06f000000';
/** A second TDX v4 FMSPC (00806f050000) whose collateral window overlaps TDX_V4's. */
export const TDX_V4_OTHER_FMSPC = 'tdx/automata-tdx-v4-00806f050000-2025-07';
export const TDX_V5_TCB_NOT_SUPPORTED = 'tdx/phala-tdx-v5-90c06f000000-tcb-not-supported';
/** SGX v3 quote with no collateral anywhere; its chain verifies at {@link MOBILECOIN_AT}. */
export const MOBILECOIN = 'sgx/mobilecoin-sgx-v3-debug-parse-only';
export const MOBILECOIN_AT = 1655242000;
export const STALE_PROCESSOR_CRL = 'common/stale-pck-crl/processor_crl.der';

export const DAY = 86400;

export function vectorBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(path, VECTORS)));
}

export function quoteBytes(name: string): Uint8Array {
  return vectorBytes(`${name}/quote.bin`);
}

/** The QuoteCollateralV3 JSON of a vector, as the plain object the verifier takes (a fresh copy). */
export function collateralJson(name: string): Record<string, string> {
  return JSON.parse(readFileSync(new URL(`${name}/collateral.json`, VECTORS), 'utf8')) as Record<string, string>;
}

export interface Expected {
  verify_at_unix: number;
  trailing_bytes_after_signature_data: number;
  expected: { verifies: boolean | string; tcb_status?: string };
}

export function expectedJson(name: string): Expected {
  return JSON.parse(readFileSync(new URL(`${name}/expected.json`, VECTORS), 'utf8')) as Expected;
}

export function verifyAt(name: string): number {
  return expectedJson(name).verify_at_unix;
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Runs `fn`, which must throw a CloisterError whose code is `codes` (or one of them); returns it.
 * `field`, when given, must equal the error's field.
 */
export function throwsCode(fn: () => unknown, codes: ErrorCode | readonly ErrorCode[], field?: string): CloisterError {
  const allowed: readonly ErrorCode[] = typeof codes === 'string' ? [codes] : codes;
  let caught: unknown;
  assert.throws(fn, (e: unknown) => {
    caught = e;
    assert.ok(
      e instanceof CloisterError,
      `expected a CloisterError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
    );
    assert.ok(allowed.includes(e.code), `expected code ${allowed.join(' | ')}, got ${e.code} (${e.message})`);
    if (field !== undefined)
      assert.equal(e.field, field, `expected field ${field}, got ${String(e.field)} (${e.message})`);
    return true;
  });
  return caught as CloisterError;
}

/** Runs `fn`; anything it throws must be a CloisterError (with a code from `codes` when given). */
export function onlyCloisterErrors<T>(fn: () => T, codes?: readonly ErrorCode[]): T | CloisterError {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof CloisterError))
      throw new assert.AssertionError({
        message: `not a CloisterError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
        actual: e,
      });
    if (codes && !codes.includes(e.code))
      throw new assert.AssertionError({
        message: `unexpected code ${e.code}: ${e.message}`,
        actual: e.code,
        expected: codes,
      });
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes

export function u16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8)) >>> 0;
}

export function u32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}

export function le16(n: number): Uint8Array {
  return new Uint8Array([n & 0xff, (n >>> 8) & 0xff]);
}

export function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A copy of `b` with `mask` xored into the byte at `at`. */
export function flip(b: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const out = b.slice();
  out[at] = ((out[at] ?? 0) ^ mask) & 0xff;
  return out;
}

/** A copy of `b` with `value` written at `at`. */
export function patch(b: Uint8Array, at: number, value: Uint8Array | number[]): Uint8Array {
  const out = b.slice();
  out.set(value, at);
  return out;
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

// ---------------------------------------------------------------------------------------------
// Quote layout, read independently of src/ (SGX ECDSA Quote Library API A.4; TDX DCAP API A.3)

export interface QuoteParts {
  version: number;
  /** Header, v5 body descriptor and body: the bytes the attestation key signs. */
  signed: Uint8Array;
  signature: Uint8Array;
  attestationKey: Uint8Array;
  /** v4/v5 only: the outer certification data type (6). */
  outerCertType: number | undefined;
  qeReport: Uint8Array;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  certType: number;
  /** Certification data type 5: the PEM chain. */
  certData: Uint8Array;
  /** Bytes after the declared signature data. */
  trailing: Uint8Array;
}

/** Absolute offsets of every field of a well-formed quote. */
export interface QuoteLayout {
  version: number;
  bodyAt: number;
  signedEnd: number;
  sigSizeAt: number;
  sigAt: number;
  attKeyAt: number;
  outerTypeAt: number | undefined;
  outerSizeAt: number | undefined;
  qeReportAt: number;
  qeReportSigAt: number;
  authSizeAt: number;
  authAt: number;
  certTypeAt: number;
  certSizeAt: number;
  pemAt: number;
  sigEnd: number;
  end: number;
}

const BODY_SIZE: Record<number, number> = { 0x00: 384, 0x81: 584 };

export function layout(q: Uint8Array): QuoteLayout {
  const version = u16(q, 0);
  let bodyAt = 48;
  let bodySize = BODY_SIZE[u32(q, 4)] ?? 384;
  if (version === 5) {
    bodySize = u32(q, 50);
    bodyAt = 54;
  }
  const signedEnd = bodyAt + bodySize;
  const sigSizeAt = signedEnd;
  const sigAt = sigSizeAt + 4;
  const attKeyAt = sigAt + 64;
  let p = attKeyAt + 64;
  let outerTypeAt: number | undefined;
  let outerSizeAt: number | undefined;
  if (version !== 3) {
    outerTypeAt = p;
    outerSizeAt = p + 2;
    p += 6;
  }
  const qeReportAt = p;
  const qeReportSigAt = qeReportAt + 384;
  const authSizeAt = qeReportSigAt + 64;
  const authAt = authSizeAt + 2;
  const certTypeAt = authAt + u16(q, authSizeAt);
  const certSizeAt = certTypeAt + 2;
  const pemAt = certSizeAt + 4;
  const sigEnd = sigAt + u32(q, sigSizeAt);
  assert.equal(pemAt + u32(q, certSizeAt), sigEnd, 'helper layout: certification data must end the signature data');
  return {
    version,
    bodyAt,
    signedEnd,
    sigSizeAt,
    sigAt,
    attKeyAt,
    outerTypeAt,
    outerSizeAt,
    qeReportAt,
    qeReportSigAt,
    authSizeAt,
    authAt,
    certTypeAt,
    certSizeAt,
    pemAt,
    sigEnd,
    end: q.length,
  };
}

export function split(q: Uint8Array): QuoteParts {
  const l = layout(q);
  return {
    version: l.version,
    signed: q.slice(0, l.signedEnd),
    signature: q.slice(l.sigAt, l.sigAt + 64),
    attestationKey: q.slice(l.attKeyAt, l.attKeyAt + 64),
    outerCertType: l.outerTypeAt === undefined ? undefined : u16(q, l.outerTypeAt),
    qeReport: q.slice(l.qeReportAt, l.qeReportAt + 384),
    qeReportSignature: q.slice(l.qeReportSigAt, l.qeReportSigAt + 64),
    qeAuthData: q.slice(l.authAt, l.certTypeAt),
    certType: u16(q, l.certTypeAt),
    certData: q.slice(l.pemAt, l.sigEnd),
    trailing: q.slice(l.sigEnd),
  };
}

/** The inverse of {@link split}: every size field recomputed from the parts. */
export function assemble(p: QuoteParts): Uint8Array {
  const qeCert = concat(
    p.qeReport,
    p.qeReportSignature,
    le16(p.qeAuthData.length),
    p.qeAuthData,
    le16(p.certType),
    le32(p.certData.length),
    p.certData,
  );
  const sigData =
    p.version === 3
      ? concat(p.signature, p.attestationKey, qeCert)
      : concat(p.signature, p.attestationKey, le16(p.outerCertType ?? 6), le32(qeCert.length), qeCert);
  return concat(p.signed, le32(sigData.length), sigData, p.trailing);
}

/** A copy of the quote whose PEM certification data is `pem` (sizes recomputed, nothing re-signed). */
export function withCertData(q: Uint8Array, pem: string | Uint8Array): Uint8Array {
  return assemble({
    ...split(q),
    certData: typeof pem === 'string' ? new Uint8Array(Buffer.from(pem, 'latin1')) : pem,
  });
}

/** The quote's PEM chain as text. */
export function pemOf(q: Uint8Array): string {
  return Buffer.from(split(q).certData).toString('latin1');
}

/** Named regions of the signature-data-bearing part of a quote, [start, end). */
export function regions(q: Uint8Array): { name: string; start: number; end: number }[] {
  const l = layout(q);
  const out = [{ name: 'header', start: 0, end: 48 }];
  if (l.version === 5) out.push({ name: 'body descriptor', start: 48, end: 54 });
  out.push(
    { name: 'body', start: l.bodyAt, end: l.signedEnd },
    { name: 'signatureData.size', start: l.sigSizeAt, end: l.sigAt },
    { name: 'signature', start: l.sigAt, end: l.attKeyAt },
    { name: 'attestationKey', start: l.attKeyAt, end: l.attKeyAt + 64 },
  );
  if (l.outerTypeAt !== undefined)
    out.push({ name: 'outer certification data type/size', start: l.outerTypeAt, end: l.qeReportAt });
  out.push(
    { name: 'qeReport', start: l.qeReportAt, end: l.qeReportSigAt },
    { name: 'qeReportSignature', start: l.qeReportSigAt, end: l.authSizeAt },
    { name: 'qeAuthData.size', start: l.authSizeAt, end: l.authAt },
    { name: 'qeAuthData', start: l.authAt, end: l.certTypeAt },
    { name: 'certificationData.type/size', start: l.certTypeAt, end: l.pemAt },
    { name: 'pem', start: l.pemAt, end: l.sigEnd },
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// PEM and DER, independent of src/

/** DER of every CERTIFICATE block, keeping only base64 characters of each body: a lenient oracle. */
export function pemDers(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(Buffer.from((m[1] ?? '').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64')));
  }
  return out;
}

export function toPem(...ders: Uint8Array[]): string {
  return ders
    .map(
      (d) =>
        `-----BEGIN CERTIFICATE-----\n${(
          Buffer.from(d)
            .toString('base64')
            .match(/.{1,64}/g) ?? []
        ).join('\n')}\n-----END CERTIFICATE-----\n`,
    )
    .join('');
}

export interface Tlv {
  tag: number;
  start: number;
  header: number;
  length: number;
  end: number;
}

export function tlvAt(b: Uint8Array, at: number): Tlv {
  const tag = b[at] ?? -1;
  let length = b[at + 1] ?? 0;
  let header = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (b[at + 2 + i] ?? 0);
    header += n;
  }
  return { tag, start: at, header, length, end: at + header + length };
}

export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start + parent.header; p < parent.end;) {
    const t = tlvAt(b, p);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function raw(b: Uint8Array, t: Tlv): Uint8Array {
  return b.slice(t.start, t.end);
}

export function der(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const len =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat(new Uint8Array([tag, ...len]), content);
}

/** The three elements of a Certificate or CertificateList: tbs, signatureAlgorithm, signatureValue. */
export function signedParts(d: Uint8Array): [Tlv, Tlv, Tlv] {
  const [tbs, alg, sig] = children(d, tlvAt(d, 0));
  assert.ok(tbs && alg && sig, 'helper: not a signed DER structure');
  return [tbs, alg, sig];
}

/** [start, end) of the content octets of the ECDSA signature's `s` INTEGER inside a certificate or CRL. */
export function signatureS(d: Uint8Array): { start: number; end: number } {
  const sig = signedParts(d)[2];
  const seq = tlvAt(d, sig.start + sig.header + 1);
  const [, s] = children(d, seq);
  assert.ok(s, 'helper: ECDSA-Sig-Value without s');
  return { start: s.start + s.header, end: s.end };
}

/** Byte offset of the first occurrence of `needle` in `hay` at or after `from`. */
export function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle), from);
}

const ECDSA_WITH_SHA256 = new Uint8Array(Buffer.from('300a06082a8648ce3d040302', 'hex'));

function resign(tbs: Uint8Array, key: KeyObject): Uint8Array {
  const sig = new Uint8Array(sign('sha256', tbs, key));
  return der(0x30, concat(tbs, ECDSA_WITH_SHA256, der(0x03, concat(new Uint8Array([0]), sig))));
}

function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

export interface Reissue {
  /** The new subject public key. */
  subjectKey: KeyObject;
  /** The issuer's private key. */
  issuerKey: KeyObject;
  /** Replaces the serial number's INTEGER content. */
  serial?: Uint8Array;
  /** Edits the re-built TBS in place before signing (same-length changes). */
  editTbs?: (tbs: Uint8Array) => void;
}

/** The certificate `d` with a new key, re-signed by `issuerKey`: same names, extensions and validity. */
export function reissue(d: Uint8Array, o: Reissue): Uint8Array {
  const [tbsTlv] = signedParts(d);
  const kids = children(d, tbsTlv).map((t) => raw(d, t));
  // TBSCertificate: [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ... (RFC 5280 §4.1)
  assert.equal(kids[0]?.[0], 0xa0, 'helper: v3 certificate expected');
  kids[6] = spkiOf(o.subjectKey);
  if (o.serial) kids[1] = der(0x02, o.serial);
  const tbs = der(0x30, concat(...kids));
  o.editTbs?.(tbs);
  return resign(tbs, o.issuerKey);
}

/** The CRL `d` re-signed by `issuerKey`, optionally with its revoked list replaced by `revoked` serials. */
export function reissueCrl(d: Uint8Array, issuerKey: KeyObject, revoked?: Uint8Array[]): Uint8Array {
  const [tbsTlv] = signedParts(d);
  const kidsTlv = children(d, tbsTlv);
  // TBSCertList: version, signature, issuer, thisUpdate, nextUpdate, revokedCertificates?, [0] crlExtensions? (RFC 5280 §5.1)
  let kids = kidsTlv.map((t) => raw(d, t));
  if (revoked) {
    const thisUpdate = kids[3] as Uint8Array;
    const head = kids.slice(0, 5);
    const tail = kids.slice(5).filter((k) => k[0] !== 0x30);
    const list = revoked.length
      ? [der(0x30, concat(...revoked.map((s) => der(0x30, concat(der(0x02, s), thisUpdate)))))]
      : [];
    kids = [...head, ...list, ...tail];
  }
  return resign(der(0x30, concat(...kids)), issuerKey);
}

/** Content octets of a serial number given as hex (a leading zero added when the high bit is set). */
export function serialContent(hexSerial: string): Uint8Array {
  const b = Buffer.from(hexSerial, 'hex');
  return new Uint8Array((b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

// ---------------------------------------------------------------------------------------------
// A simulated Intel PKI: the vector's own certificates, CRLs and collateral, re-keyed and re-signed

export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

function p256(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** r ‖ s signature, as the quote and the collateral carry them. */
export function p1363(key: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }));
}

/** x ‖ y of a P-256 public key. */
export function rawPoint(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return concat(Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url'));
}

export interface SimQuoteOptions {
  /** Edits header + body before the attestation key signs them. */
  editSigned?: (signed: Uint8Array) => void;
  /** Edits the QE report before the report data binding is recomputed and the PCK key signs it. */
  editQeReport?: (qeReport: Uint8Array) => void;
  /** The PCK certificate (default: the re-keyed genuine one). */
  pck?: Uint8Array;
  /** The whole PEM certification data (default: PCK, PCK CA, root). */
  pem?: string;
}

export interface SimCollateralOptions {
  /** Signs the TCB info with this key instead of the TCB Signing key. */
  tcbInfoKey?: KeyObject;
  tcbInfo?: string;
  tcbInfoChain?: string;
  qeIdentityKey?: KeyObject;
  qeIdentity?: string;
  qeIdentityChain?: string;
  /** Serials (INTEGER content) the PCK CRL revokes; default: as the genuine CRL. */
  pckCrlRevoked?: Uint8Array[];
  /** Serials the root CA CRL revokes; default: as the genuine CRL. */
  rootCaCrlRevoked?: Uint8Array[];
}

export interface SimPki {
  keys: { root: KeyPair; ca: KeyPair; pck: KeyPair; tcb: KeyPair; attestation: KeyPair };
  /** The re-keyed certificates, DER. */
  root: Uint8Array;
  ca: Uint8Array;
  pck: Uint8Array;
  tcbSigner: Uint8Array;
  /** Serial numbers (INTEGER content) of the genuine PCK and PCK CA. */
  pckSerial: Uint8Array;
  caSerial: Uint8Array;
  tcbSignerSerial: Uint8Array;
  /** Re-issues the PCK certificate (same key) with edits. */
  reissuePck(o: Omit<Reissue, 'subjectKey' | 'issuerKey'>): Uint8Array;
  quote(o?: SimQuoteOptions): Uint8Array;
  collateral(o?: SimCollateralOptions): Record<string, string>;
}

function serialOf(d: Uint8Array): Uint8Array {
  const [tbs] = signedParts(d);
  const serial = children(d, tbs)[1] as Tlv;
  return d.slice(serial.start + serial.header, serial.end);
}

const simCache = new Map<string, SimPki>();

/**
 * The vector `name` moved to a simulated PKI: every certificate keeps its names, extensions and
 * validity but gets a key generated here; every signature (certificates, CRLs, collateral, the QE
 * report, the quote) is redone. Verify with `new DcapVerifier(customRoot(sim.root))`.
 */
export function simulatedPki(name: string): SimPki {
  const cached = simCache.get(name);
  if (cached) return cached;
  const original = quoteBytes(name);
  const parts = split(original);
  const [pckDer, caDer, rootDer] = pemDers(Buffer.from(parts.certData).toString('latin1'));
  const collateral = collateralJson(name);
  const [tcbDer] = pemDers(collateral['tcb_info_issuer_chain'] as string);
  assert.ok(pckDer && caDer && rootDer && tcbDer, 'helper: vector chains');
  const keys = { root: p256(), ca: p256(), pck: p256(), tcb: p256(), attestation: p256() };
  const root = reissue(rootDer, { subjectKey: keys.root.publicKey, issuerKey: keys.root.privateKey });
  const ca = reissue(caDer, { subjectKey: keys.ca.publicKey, issuerKey: keys.root.privateKey });
  const reissuePck = (o: Omit<Reissue, 'subjectKey' | 'issuerKey'>) =>
    reissue(pckDer, { ...o, subjectKey: keys.pck.publicKey, issuerKey: keys.ca.privateKey });
  const pck = reissuePck({});
  const tcbSigner = reissue(tcbDer, { subjectKey: keys.tcb.publicKey, issuerKey: keys.root.privateKey });
  const pckCrl = new Uint8Array(Buffer.from(collateral['pck_crl'] as string, 'hex'));
  const rootCaCrl = new Uint8Array(Buffer.from(collateral['root_ca_crl'] as string, 'hex'));

  const sim: SimPki = {
    keys,
    root,
    ca,
    pck,
    tcbSigner,
    pckSerial: serialOf(pckDer),
    caSerial: serialOf(caDer),
    tcbSignerSerial: serialOf(tcbDer),
    reissuePck,
    quote(o = {}) {
      const p = split(original);
      o.editSigned?.(p.signed);
      o.editQeReport?.(p.qeReport);
      const attestationKey = rawPoint(keys.attestation.publicKey);
      // QE report data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes (DCAP ECDSA Quote Library API A.4).
      p.qeReport.set(sha256(attestationKey, p.qeAuthData), 320);
      p.qeReport.fill(0, 352, 384);
      return assemble({
        ...p,
        attestationKey,
        signature: p1363(keys.attestation.privateKey, p.signed),
        qeReportSignature: p1363(keys.pck.privateKey, p.qeReport),
        certData: new Uint8Array(Buffer.from(o.pem ?? toPem(o.pck ?? pck, ca, root), 'latin1')),
      });
    },
    collateral(o = {}) {
      const tcbInfo = o.tcbInfo ?? (collateral['tcb_info'] as string);
      const qeIdentity = o.qeIdentity ?? (collateral['qe_identity'] as string);
      const text = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
      const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
      return {
        tcb_info: tcbInfo,
        tcb_info_signature: hexOf(p1363(o.tcbInfoKey ?? keys.tcb.privateKey, text(tcbInfo))),
        tcb_info_issuer_chain: o.tcbInfoChain ?? toPem(tcbSigner, root),
        qe_identity: qeIdentity,
        qe_identity_signature: hexOf(p1363(o.qeIdentityKey ?? keys.tcb.privateKey, text(qeIdentity))),
        qe_identity_issuer_chain: o.qeIdentityChain ?? toPem(tcbSigner, root),
        pck_crl: hexOf(reissueCrl(pckCrl, keys.ca.privateKey, o.pckCrlRevoked)),
        pck_crl_issuer_chain: toPem(ca, root),
        root_ca_crl: hexOf(reissueCrl(rootCaCrl, keys.root.privateKey, o.rootCaCrlRevoked)),
      };
    },
  };
  simCache.set(name, sim);
  return sim;
}

/** notBefore/notAfter (Unix seconds) of a DER certificate, read with the helpers' DER walker (RFC 5280 §4.1.2.5). */
export function certValidity(d: Uint8Array): { notBefore: number; notAfter: number } {
  const [tbs] = signedParts(d);
  const validity = children(d, tbs)[4];
  assert.ok(validity, 'helper: certificate validity');
  const [notBefore, notAfter] = children(d, validity).map((t) => {
    const text = Buffer.from(d.subarray(t.start + t.header, t.end)).toString('latin1');
    const m =
      t.tag === 0x17
        ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    assert.ok(m, 'helper: certificate time');
    const y = Number(m[1]);
    const year = t.tag === 0x17 ? (y < 50 ? 2000 + y : 1900 + y) : y;
    return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  });
  return { notBefore: notBefore as number, notAfter: notAfter as number };
}

/** Validity of each certificate of a quote's PEM chain, leaf first. */
export function pckChainValidity(q: Uint8Array): { notBefore: number; notAfter: number }[] {
  return pemDers(pemOf(q)).map(certValidity);
}
