import { createHash, sign, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { CERT_DATA, ECDSA_P256, INTEL_QE_VENDOR_ID, TEE_TYPE } from '../dcap/quote.js';
import { rawPublicKey, SIM, type SimPlatform } from './platform.js';
import { pemCert } from '../../pki/pem.js';

/**
 * Quotes of the simulated platform in the real Intel formats, so that `DcapVerifier` checks them
 * as it checks hardware quotes: SGX quote v3 (Intel SGX ECDSA Quote Library API, Appendix A) and
 * TDX quote v4 with a TD 1.0 body (Intel TDX DCAP Quoting Library API, Appendix A).
 */

interface SimQuoteCommon {
  /** REPORTDATA, at most 64 bytes, zero-padded; zeros by default. */
  reportData?: Uint8Array | undefined;
  /** A debug enclave (SGX ATTRIBUTES.DEBUG) or TD (TDATTRIBUTES.DEBUG). */
  debug?: boolean | undefined;
}

export interface SimSgxQuoteOptions extends SimQuoteCommon {
  tee?: 'sgx' | undefined;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  /** CONFIGID (SGX SDM 38.7: the KSS configuration id), up to 64 bytes, zero-padded; zeros by default. */
  configId?: Uint8Array | undefined;
}

export interface SimTdxQuoteOptions extends SimQuoteCommon {
  tee: 'tdx';
  /** MRTD, 48 bytes. */
  mrTd: Uint8Array;
  /** RTMR0..3, 48 bytes each; missing ones are zero. */
  rtmr?: readonly Uint8Array[] | undefined;
}

export type SimQuoteOptions = SimSgxQuoteOptions | SimTdxQuoteOptions;

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const zeros = (n: number): Buffer => Buffer.alloc(n);

/** `value` as exactly `size` bytes; with `pad`, shorter values are zero-padded. */
function fixed(field: string, value: Uint8Array | undefined, size: number, pad = false): Uint8Array {
  if (value === undefined) return zeros(size);
  if (value.length === size) return value;
  if (pad && value.length < size) return Buffer.concat([value, zeros(size - value.length)]);
  throw new CloisterError('USAGE', `${field}: must be ${pad ? 'at most ' : ''}${size} bytes, got ${value.length}`, {
    field,
    expected: size,
    actual: value.length,
  });
}

function u16Field(field: string, value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff)
    throw new CloisterError('USAGE', `${field}: ${value} is not an integer from 0 to 65535`, { field, actual: value });
  return u16(value);
}

/** ATTRIBUTES (SGX SDM 38.7.1): FLAGS in bytes 0..7, XFRM in bytes 8..15. */
function attributes(flags: number, xfrm: number): Buffer {
  const a = zeros(16);
  a[0] = flags;
  a[8] = xfrm;
  return a;
}

interface ReportFields {
  cpuSvn: Uint8Array;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: Buffer;
  isvSvn: Buffer;
  reportData: Uint8Array;
  configId?: Uint8Array | undefined;
}

/** SGX enclave report body, 384 bytes (SGX SDM 38.15 REPORT; SGX ECDSA Quote Library API A.3.3). */
function sgxReportBody(f: ReportFields): Buffer {
  return Buffer.concat([
    f.cpuSvn,
    zeros(4) /* MISCSELECT */,
    zeros(12),
    zeros(16) /* ISVEXTPRODID */,
    f.attributes,
    f.mrEnclave,
    zeros(32),
    f.mrSigner,
    zeros(32),
    f.configId ?? zeros(64),
    f.isvProdId,
    f.isvSvn,
    zeros(2) /* CONFIGSVN */,
    zeros(42),
    zeros(16) /* ISVFAMILYID */,
    f.reportData,
  ]);
}

/** TD 1.0 report body, 584 bytes (TDX DCAP Quoting Library API A.3.3). */
function tdReportBody(o: SimTdxQuoteOptions, reportData: Uint8Array): Buffer {
  const rtmr = o.rtmr ?? [];
  if (rtmr.length > 4)
    throw new CloisterError('USAGE', `rtmr: at most 4 registers, got ${rtmr.length}`, {
      field: 'rtmr',
      actual: rtmr.length,
    });
  const tdAttributes = zeros(8);
  // TDX Module ABI TDATTRIBUTES: bit 0 DEBUG; bit 28 SEPT_VE_DISABLE, set as by current TD loaders.
  tdAttributes[0] = o.debug ? 0x01 : 0x00;
  tdAttributes[3] = 0x10;
  const xfam = zeros(8);
  xfam[0] = 0xe7; // x87, SSE, AVX, AVX-512 state
  return Buffer.concat([
    Uint8Array.from(SIM.teeTcbSvn),
    SIM.mrSeam,
    zeros(48) /* MRSIGNERSEAM: Intel module */,
    zeros(8) /* SEAMATTRIBUTES */,
    tdAttributes,
    xfam,
    fixed('mrTd', o.mrTd, 48),
    zeros(48) /* MRCONFIGID */,
    zeros(48) /* MROWNER */,
    zeros(48) /* MROWNERCONFIG */,
    ...[0, 1, 2, 3].map((i) => fixed(`rtmr[${i}]`, rtmr[i], 48)),
    reportData,
  ]);
}

const p1363 = (key: KeyObject, data: Uint8Array): Buffer => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });

/**
 * A quote of the simulated platform: SGX quote v3 by default, TDX quote v4 with `tee: 'tdx'`.
 * The QE report is signed by the PCK key and binds the attestation key, which signs header and
 * body; the certification data is the PEM chain PCK ‖ PCK CA ‖ root.
 *
 * @example
 * ```ts
 * const quote = simQuote(platform, { mrEnclave, mrSigner, isvProdId: 1, isvSvn: 2, reportData: nonce });
 * const verdict = new DcapVerifier(customRoot(platform.root.cert.der)).verify(quote, { now, collateral });
 * ```
 */
export function simQuote(p: SimPlatform, o: SimQuoteOptions): Uint8Array {
  const tee = o.tee ?? 'sgx';
  const reportData = fixed('reportData', o.reportData, 64, true);
  const body =
    o.tee === 'tdx'
      ? tdReportBody(o, reportData)
      : sgxReportBody({
          cpuSvn: p.tcb.cpuSvn,
          // FLAGS: INIT | MODE64BIT, DEBUG on request; XFRM x87 | SSE.
          attributes: attributes(0x05 | (o.debug ? 0x02 : 0), 0x03),
          mrEnclave: fixed('mrEnclave', o.mrEnclave, 32),
          mrSigner: fixed('mrSigner', o.mrSigner, 32),
          isvProdId: u16Field('isvProdId', o.isvProdId),
          isvSvn: u16Field('isvSvn', o.isvSvn),
          reportData,
          configId: fixed('configId', o.configId, 64, true),
        });

  // Header (SGX ECDSA Quote Library API A.3.1; TDX DCAP API A.3.1): user data is zero.
  const header = Buffer.concat([
    u16(tee === 'tdx' ? 4 : 3),
    u16(ECDSA_P256),
    u32(TEE_TYPE[tee]),
    u16(SIM.qe.isvSvn),
    u16(p.tcb.pceSvn),
    INTEL_QE_VENDOR_ID,
    zeros(20),
  ]);
  const signed = Buffer.concat([header, body]);

  // QE report certification data (SGX ECDSA Quote Library API A.4): the QE report data is
  // SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes, and the PCK key signs the QE report.
  const attestationKey = rawPublicKey(p.attestationKey);
  const qeAuthData = Uint8Array.from({ length: 32 }, (_, i) => i);
  const qeReport = sgxReportBody({
    cpuSvn: p.tcb.cpuSvn,
    attributes: Buffer.from(SIM.qe.attributes, 'hex'),
    mrEnclave: SIM.qe.mrEnclave,
    mrSigner: SIM.qe.mrSigner,
    isvProdId: u16(SIM.qe.isvProdId[tee]),
    isvSvn: u16(SIM.qe.isvSvn),
    reportData: Buffer.concat([createHash('sha256').update(attestationKey).update(qeAuthData).digest(), zeros(32)]),
  });
  const chain = Buffer.from([p.pck, p.pckCa, p.root].map((i) => pemCert(i.cert.der)).join(''));
  const qeCertification = Buffer.concat([
    qeReport,
    p1363(p.pck.key, qeReport),
    u16(qeAuthData.length),
    qeAuthData,
    u16(CERT_DATA.pckChain),
    u32(chain.length),
    chain,
  ]);
  // v4 wraps it in certification data type 6 (TDX DCAP Quoting Library API A.3.7).
  const certification =
    tee === 'tdx'
      ? Buffer.concat([u16(CERT_DATA.qeReportCertificationData), u32(qeCertification.length), qeCertification])
      : qeCertification;
  const signatureData = Buffer.concat([p1363(p.attestationKey, signed), attestationKey, certification]);
  return new Uint8Array(Buffer.concat([signed, u32(signatureData.length), signatureData]));
}
