import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { ByteReader } from '../lib/reader.js';
import { base64url } from '../attest/maa/jws.js';
import { pemCertificates } from '../attest/lib/x509.js';
import { pemCert } from '../pki/pem.js';
import type { SnpCerts } from '../attest/index.js';

/**
 * Azure Attestation's request bodies (REST API 2020-10-01 and 2022-08-01, "Attestation - Attest
 * Sgx Enclave / Attest Open Enclave / Attest Sev Snp Vm"): evidence in `quote` or `report`,
 * `runtimeData` and `initTimeData` as `{ data, dataType }`, an optional `nonce`. Byte strings are
 * base64url. Pure: JSON in, typed values out; every refusal is REQUEST_INVALID naming the JSON path.
 */

/** The `api-version`s served: the SDK's fixed 2020-10-01 and 2022-08-01 (which added SevSnpVm). @example `API_VERSIONS.includes(v)` */
export const API_VERSIONS = ['2020-10-01', '2022-08-01'] as const;

/** `DataType` of MAA's RuntimeData / InitTimeData: how the service reads `data`. @example `{ data: 'eyJhIjoxfQ', dataType: DATA_TYPES[1] }` */
export const DATA_TYPES = ['Binary', 'JSON'] as const;

/**
 * Runtime or init-time data: the bytes the evidence binds (by SHA-256), and for `dataType: JSON`
 * the parsed object, which the token repeats as `x-ms-runtime` / `x-ms-inittime`.
 *
 * @example `{ bytes: utf8('{"k":1}'), json: { k: 1 } }`
 */
export interface DataItem {
  bytes: Uint8Array;
  json: Record<string, unknown> | undefined;
}

/**
 * A validated attestation request.
 *
 * @example `parseAttestRequest(JSON.parse(body), 'quote').evidence`
 */
export interface AttestRequest {
  evidence: Uint8Array;
  runtimeData: DataItem | undefined;
  initTimeData: DataItem | undefined;
  nonce: string | undefined;
}

const j = new JsonReader('REQUEST_INVALID', 'body');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Base64url bytes of `o[key]`; the trailing `=` padding some encoders add is tolerated (RFC 4648 §5, RFC 7515 §2). @example `base64urlMember({ quote: 'AwAC' }, 'quote', 'body')` */
export function base64urlMember(o: Record<string, unknown>, key: string, path: string): Uint8Array {
  const bytes = base64url(j.string(o, key, path).replace(/={1,2}$/, ''));
  if (!bytes) throw j.fail(`${path}.${key}`, 'must be base64url');
  return bytes;
}

function dataItem(o: Record<string, unknown>, key: string): DataItem | undefined {
  if (!j.has(o, key) || o[key] === null) return undefined;
  const path = `body.${key}`;
  const item = j.object(o[key], path);
  const bytes = base64urlMember(item, 'data', path);
  // MAA treats an absent dataType as Binary.
  const type = j.has(item, 'dataType') ? j.oneOf(item, 'dataType', DATA_TYPES, path) : 'Binary';
  if (type === 'Binary') return { bytes, json: undefined };
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes)) as unknown;
  } catch {
    throw j.fail(`${path}.data`, 'dataType is JSON but data is not UTF-8 JSON');
  }
  return { bytes, json: j.object(json, `${path}.data`) };
}

/**
 * Validates an attest request body whose evidence is in `member` (`quote` for SgxEnclave,
 * `report` otherwise). A draft policy is refused: cloister judges with its JSON policy, not
 * MAA's claim-rule language.
 *
 * @example
 * ```ts
 * const r = parseAttestRequest({ quote: 'AwACAAAA…', runtimeData: { data: 'aGk', dataType: 'Binary' } }, 'quote');
 * ```
 */
export function parseAttestRequest(body: unknown, member: 'quote' | 'report'): AttestRequest {
  const o = j.object(body);
  if (j.has(o, 'draftPolicyForAttestation') && o['draftPolicyForAttestation'] !== null) {
    throw j.fail(
      'body.draftPolicyForAttestation',
      "draft policies (MAA's claim-rule language) are not supported: the service judges with its JSON policy",
    );
  }
  const nonce = j.has(o, 'nonce') && o['nonce'] !== null ? j.string(o, 'nonce') : undefined;
  return {
    evidence: base64urlMember(o, member, 'body'),
    runtimeData: dataItem(o, 'runtimeData'),
    initTimeData: dataItem(o, 'initTimeData'),
    nonce,
  };
}

/** Open Enclave's oe_report_header_t: version 1, report type 2 (OE_REPORT_TYPE_SGX_REMOTE), then the quote. */
const OE_REPORT = { headerVersion: 1, sgxRemote: 2 } as const;
const QUOTE_CODES = { truncated: 'QUOTE_TRUNCATED', trailing: 'QUOTE_TRAILING_BYTES' } as const;

/**
 * The SGX quote inside an Open Enclave remote report: a 16-byte oe_report_header_t (u32 version,
 * u32 report type, u64 report size; openenclave/include/openenclave/bits/report.h) followed by
 * exactly `report size` bytes of quote.
 *
 * @example `const quote = openEnclaveQuote(report)`
 */
export function openEnclaveQuote(report: Uint8Array): Uint8Array {
  const r = new ByteReader(report, QUOTE_CODES);
  const version = r.u32le('oeHeader.version');
  if (version !== OE_REPORT.headerVersion)
    throw new CloisterError('QUOTE_UNSUPPORTED_VERSION', `oeHeader.version: ${version} is not 1`, {
      field: 'oeHeader.version',
      offset: 0,
      actual: version,
    });
  const type = r.u32le('oeHeader.reportType');
  if (type !== OE_REPORT.sgxRemote)
    throw new CloisterError('QUOTE_UNSUPPORTED_BODY', `oeHeader.reportType: ${type} is not 2 (an SGX remote report)`, {
      field: 'oeHeader.reportType',
      offset: 4,
      actual: type,
    });
  const low = r.u32le('oeHeader.reportSize');
  const high = r.u32le('oeHeader.reportSize');
  const quote = r.bytes(high === 0 ? low : Number.MAX_SAFE_INTEGER, 'oeReport.quote');
  r.end('oeReport');
  return quote;
}

/**
 * The SEV-SNP evidence of `/attest/SevSnpVm` (the `report` member, decoded): UTF-8 JSON with
 * `SnpReport` (base64url of the 1184-byte report) and `VcekCertChain` (base64url of the PEM
 * VCEK, ASK and ARK, in that order, as Azure's THIM serves them); `Endorsements` is ignored.
 *
 * @example `const { report, certs } = snpEvidence(decodedReportMember)`
 */
export function snpEvidence(bytes: Uint8Array): { report: Uint8Array; certs: SnpCerts } {
  const r = new JsonReader('REQUEST_INVALID', 'report');
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes)) as unknown;
  } catch {
    throw r.fail('body.report', 'SevSnpVm evidence must be base64url of UTF-8 JSON { SnpReport, VcekCertChain }');
  }
  const o = r.object(value, 'body.report');
  const report = base64urlMember(o, 'SnpReport', 'body.report');
  const chain = pemCertificates(
    Buffer.from(base64urlMember(o, 'VcekCertChain', 'body.report')).toString('latin1'),
    'body.report.VcekCertChain',
  );
  const [vcek, ask, ark] = chain;
  if (!vcek || chain.length > 3)
    throw r.fail(
      'body.report.VcekCertChain',
      `must hold the VCEK, then optionally the ASK and ARK (got ${chain.length} certificates)`,
    );
  return { report, certs: { vcek, ask: ask && pemCert(ask), ark: ark && pemCert(ark) } };
}
