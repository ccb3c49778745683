import { CloisterError } from '../../lib/errors.js';
import { ByteReader } from '../../lib/reader.js';
import { equal } from '../../lib/bytes.js';

/**
 * Intel DCAP quotes: SGX quote v3 (Intel SGX ECDSA Quote Library API, Appendix A), TDX quote v4
 * and v5 (Intel TDX DCAP Quoting Library API, Appendix A). Pure: bytes in, typed values out.
 */

const CODES = { truncated: 'QUOTE_TRUNCATED', trailing: 'QUOTE_TRAILING_BYTES' } as const;

/** Intel's QE vendor id (QE_VENDOR_ID in the quote header). */
export const INTEL_QE_VENDOR_ID = new Uint8Array(Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex'));
/** Attestation key type 2: ECDSA-256-with-P-256 curve, the only one defined for generation. */
export const ECDSA_P256 = 2;
export const TEE_TYPE = { sgx: 0x00000000, tdx: 0x00000081 } as const;

/** Report body kinds with their sizes; v5 names them in a body descriptor (TDX DCAP API A.3.2). */
export const BODY = {
  sgx: { v5Type: 1, size: 384 },
  td10: { v5Type: 2, size: 584 },
  td15: { v5Type: 3, size: 648 },
} as const;
export type BodyKind = keyof typeof BODY;

/** Certification data types (SGX ECDSA Quote Library API, A.4). */
export const CERT_DATA = { pckChain: 5, qeReportCertificationData: 6 } as const;

export interface QuoteHeader {
  version: number;
  attestationKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

/** SGX enclave report body, 384 bytes (SGX SDM, EREPORT REPORTBODY). */
export interface SgxReportBody {
  raw: Uint8Array;
  cpuSvn: Uint8Array;
  miscSelect: number;
  isvExtProdId: Uint8Array;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  configId: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  configSvn: number;
  isvFamilyId: Uint8Array;
  reportData: Uint8Array;
}

/** TD report body: TD 1.0 (584 bytes) and TD 1.5 (648 bytes, adds TEE_TCB_SVN_2 and MRSERVICETD). */
export interface TdReportBody {
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  teeTcbSvn2?: Uint8Array;
  mrServiceTd?: Uint8Array;
}

export type QuoteBody = { kind: 'sgx'; report: SgxReportBody } | { kind: 'td10' | 'td15'; report: TdReportBody };

export interface Quote {
  header: QuoteHeader;
  body: QuoteBody;
  /** The bytes the attestation key signs: header and body (with the v5 body descriptor). */
  signed: Uint8Array;
  /** ECDSA P-256 signature r ‖ s over {@link Quote.signed}. */
  signature: Uint8Array;
  /** Attestation public key x ‖ y. */
  attestationKey: Uint8Array;
  qeReport: SgxReportBody;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** Certification data type 5: the PEM PCK certificate chain, as bytes. */
  pckChain: Uint8Array;
  /** Bytes after the declared signature data, which are not interpreted (as Intel's QVL). */
  trailingBytes: number;
}

function sgxReportBody(r: ByteReader): SgxReportBody {
  const start = r.offset;
  const cpuSvn = r.bytes(16, 'cpuSvn');
  const miscSelect = r.u32le('miscSelect');
  r.bytes(12, 'reserved1');
  const isvExtProdId = r.bytes(16, 'isvExtProdId');
  const attributes = r.bytes(16, 'attributes');
  const mrEnclave = r.bytes(32, 'mrEnclave');
  r.bytes(32, 'reserved2');
  const mrSigner = r.bytes(32, 'mrSigner');
  r.bytes(32, 'reserved3');
  const configId = r.bytes(64, 'configId');
  const isvProdId = r.u16le('isvProdId');
  const isvSvn = r.u16le('isvSvn');
  const configSvn = r.u16le('configSvn');
  r.bytes(42, 'reserved4');
  const isvFamilyId = r.bytes(16, 'isvFamilyId');
  const reportData = r.bytes(64, 'reportData');
  const raw = r.buf.subarray(start, r.offset);
  return {
    raw,
    cpuSvn,
    miscSelect,
    isvExtProdId,
    attributes,
    mrEnclave,
    mrSigner,
    configId,
    isvProdId,
    isvSvn,
    configSvn,
    isvFamilyId,
    reportData,
  };
}

function tdReportBody(r: ByteReader, kind: 'td10' | 'td15'): TdReportBody {
  const body: TdReportBody = {
    teeTcbSvn: r.bytes(16, 'teeTcbSvn'),
    mrSeam: r.bytes(48, 'mrSeam'),
    mrSignerSeam: r.bytes(48, 'mrSignerSeam'),
    seamAttributes: r.bytes(8, 'seamAttributes'),
    tdAttributes: r.bytes(8, 'tdAttributes'),
    xfam: r.bytes(8, 'xfam'),
    mrTd: r.bytes(48, 'mrTd'),
    mrConfigId: r.bytes(48, 'mrConfigId'),
    mrOwner: r.bytes(48, 'mrOwner'),
    mrOwnerConfig: r.bytes(48, 'mrOwnerConfig'),
    rtmr: [r.bytes(48, 'rtmr0'), r.bytes(48, 'rtmr1'), r.bytes(48, 'rtmr2'), r.bytes(48, 'rtmr3')],
    reportData: r.bytes(64, 'reportData'),
  };
  if (kind === 'td15') {
    body.teeTcbSvn2 = r.bytes(16, 'teeTcbSvn2');
    body.mrServiceTd = r.bytes(48, 'mrServiceTd');
  }
  return body;
}

function header(r: ByteReader): QuoteHeader {
  const version = r.u16le('header.version');
  if (version !== 3 && version !== 4 && version !== 5) {
    throw new CloisterError(
      'QUOTE_UNSUPPORTED_VERSION',
      `header.version: ${version} is not a supported quote version (3, 4, 5)`,
      { field: 'header.version', offset: 0, actual: version },
    );
  }
  const attestationKeyType = r.u16le('header.attestationKeyType');
  if (attestationKeyType !== ECDSA_P256) {
    throw new CloisterError(
      'QUOTE_UNSUPPORTED_KEY_TYPE',
      `header.attestationKeyType: ${attestationKeyType} is not ECDSA-256-with-P-256 (2)`,
      { field: 'header.attestationKeyType', offset: 2, actual: attestationKeyType },
    );
  }
  const teeType = r.u32le('header.teeType');
  // Quote v3 is SGX only; its bytes 4..7 are reserved and zero (SGX ECDSA Quote Library API A.3.1).
  if ((teeType !== TEE_TYPE.sgx && teeType !== TEE_TYPE.tdx) || (version === 3 && teeType !== TEE_TYPE.sgx)) {
    throw new CloisterError(
      'QUOTE_UNSUPPORTED_TEE_TYPE',
      `header.teeType: 0x${teeType.toString(16)} is not supported for quote version ${version}`,
      { field: 'header.teeType', offset: 4, actual: teeType },
    );
  }
  const qeSvn = r.u16le('header.qeSvn');
  const pceSvn = r.u16le('header.pceSvn');
  const qeVendorId = r.bytes(16, 'header.qeVendorId');
  if (!equal(qeVendorId, INTEL_QE_VENDOR_ID)) {
    throw new CloisterError(
      'QUOTE_BAD_QE_VENDOR',
      `header.qeVendorId: ${Buffer.from(qeVendorId).toString('hex')} is not Intel's QE vendor id`,
      { field: 'header.qeVendorId', offset: 12 },
    );
  }
  const userData = r.bytes(20, 'header.userData');
  return { version, attestationKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData };
}

function body(r: ByteReader, h: QuoteHeader): QuoteBody {
  let kind: BodyKind = h.teeType === TEE_TYPE.tdx ? 'td10' : 'sgx';
  let size: number = BODY[kind].size;
  if (h.version === 5) {
    // Quote v5 body descriptor: type (u16) and size (u32) (TDX DCAP Quoting Library API A.3.2).
    const at = r.base + r.offset;
    const type = r.u16le('body.type');
    size = r.u32le('body.size');
    const found = (Object.keys(BODY) as BodyKind[]).find((k) => BODY[k].v5Type === type);
    if (!found || (found === 'sgx') !== (h.teeType === TEE_TYPE.sgx)) {
      throw new CloisterError(
        'QUOTE_UNSUPPORTED_BODY',
        `body.type: ${type} is not a report body for TEE type 0x${h.teeType.toString(16)}`,
        { field: 'body.type', offset: at, actual: type },
      );
    }
    kind = found;
    if (size !== BODY[kind].size) {
      throw new CloisterError(
        'QUOTE_UNSUPPORTED_BODY',
        `body.size: ${size} is not the size of a ${kind} body (${BODY[kind].size})`,
        { field: 'body.size', offset: at + 2, actual: size },
      );
    }
  }
  const br = r.sub(size, 'body');
  const result: QuoteBody =
    kind === 'sgx' ? { kind, report: sgxReportBody(br) } : { kind, report: tdReportBody(br, kind) };
  br.end('body');
  return result;
}

/** QE report certification data: QE report, its signature, QE auth data and the inner certification data. */
function qeReportCertification(
  r: ByteReader,
): Pick<Quote, 'qeReport' | 'qeReportSignature' | 'qeAuthData' | 'pckChain'> {
  const qeReport = sgxReportBody(r.sub(384, 'qeReport'));
  const qeReportSignature = r.bytes(64, 'qeReportSignature');
  const qeAuthData = r.bytes(r.u16le('qeAuthData.size'), 'qeAuthData');
  const type = r.u16le('certificationData.type');
  const data = r.sub(r.u32le('certificationData.size'), 'certificationData');
  if (type !== CERT_DATA.pckChain) {
    throw new CloisterError(
      'QUOTE_UNSUPPORTED_CERT_DATA',
      `certificationData.type: ${type} is not supported (only 5, the PEM PCK chain)`,
      { field: 'certificationData.type', offset: data.base - 6, actual: type },
    );
  }
  return { qeReport, qeReportSignature, qeAuthData, pckChain: data.rest() };
}

/**
 * Parses an SGX or TDX DCAP quote. Every structure must end exactly where its size says; bytes
 * after the declared signature data are counted, not interpreted.
 *
 * @example
 * ```ts
 * const quote = parseQuote(readFileSync('quote.bin'));
 * if (quote.body.kind === 'sgx') console.log(hex(quote.body.report.mrEnclave));
 * ```
 */
export function parseQuote(bytes: Uint8Array): Quote {
  const r = new ByteReader(bytes, CODES);
  const h = header(r);
  const b = body(r, h);
  const signed = bytes.subarray(0, r.offset);
  const sig = r.sub(r.u32le('signatureData.size'), 'signatureData');
  const signature = sig.bytes(64, 'signatureData.signature');
  const attestationKey = sig.bytes(64, 'signatureData.attestationKey');
  let cert: ReturnType<typeof qeReportCertification>;
  if (h.version === 3) {
    cert = qeReportCertification(sig);
  } else {
    // v4/v5: certification data type 6 wraps the QE report certification data (TDX DCAP API A.3.7).
    const type = sig.u16le('signatureData.certificationData.type');
    const inner = sig.sub(sig.u32le('signatureData.certificationData.size'), 'signatureData.certificationData');
    if (type !== CERT_DATA.qeReportCertificationData) {
      throw new CloisterError(
        'QUOTE_UNSUPPORTED_CERT_DATA',
        `signatureData.certificationData.type: ${type} is not 6 (QE report certification data)`,
        { field: 'signatureData.certificationData.type', offset: inner.base - 6, actual: type },
      );
    }
    cert = qeReportCertification(inner);
    inner.end('signatureData.certificationData');
  }
  sig.end('signatureData');
  return { header: h, body: b, signed, signature, attestationKey, ...cert, trailingBytes: r.remaining };
}
