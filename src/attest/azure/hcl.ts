import { createPublicKey, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { isZero } from '../../lib/bytes.js';
import { ByteReader } from '../../lib/reader.js';
import type { ClaimValue } from '../verdict.js';
import { SNP_REPORT_SIZE } from '../snp/report.js';

/**
 * Azure's HCL report: what the paravisor (HCL) of an Azure confidential VM writes to vTPM NV index
 * 0x01400001. Layout as in Microsoft's IGVM attestation request (OpenHCL `igvm_attest`,
 * kinvolk/azure-cvm-tooling `az-cvm-vtpm` `hcl.rs`):
 *
 * - `IGVM_ATTEST_HEADER` (32 bytes): signature "HCLA", version, report size, request type,
 *   status, 12 reserved bytes;
 * - the hardware report, a 1184-byte SEV-SNP ATTESTATION_REPORT;
 * - `IGVM_REQUEST_DATA` (20 bytes): data size, version 1, report type, report-data hash type,
 *   variable data size; then the variable data: the runtime claims, a JSON object whose hash the
 *   SNP report's REPORT_DATA carries;
 * - zero padding to the size of the NV index.
 *
 * Only the runtime claims are bound to the hardware report (through REPORT_DATA); the header's
 * request type and status are signed by nothing, so they are returned as information and never
 * become claims.
 */

/** `IGVM_ATTEST_HEADER.signature`: "HCLA" read as a little-endian u32. @example `HCL_SIGNATURE` → `0x414c4348` */
export const HCL_SIGNATURE = 0x414c4348;
const HEADER_VERSIONS = [1, 2];
const REQUEST_DATA_VERSION = 1;
const REQUEST_DATA_HEADER = 20;

/** `IGVM_REQUEST_DATA.report_type`: the kind of hardware report (2 SNP; 4, TDX, is not read by cloister). @example `HCL_REPORT_TYPES[2]` */
export const HCL_REPORT_TYPES: Readonly<Record<number, { tee: 'snp'; size: number }>> = {
  2: { tee: 'snp', size: SNP_REPORT_SIZE },
};

/** `IGVM_REQUEST_DATA.report_data_hash_type`: the hash of the runtime claims in REPORT_DATA. @example `HCL_HASH_TYPES[1]` → `'sha256'` */
export const HCL_HASH_TYPES: Readonly<Record<number, 'sha256' | 'sha384' | 'sha512'>> = {
  1: 'sha256',
  2: 'sha384',
  3: 'sha512',
};

/** The runtime-claims key (JWK `kid`) of the vTPM attestation key. @example `HCL_AK_KID` → `'HCLAkPub'` */
export const HCL_AK_KID = 'HCLAkPub';
const MIN_AK_BITS = 2048;

/**
 * A parsed HCL report.
 *
 * @example
 * ```ts
 * const hcl = parseHclReport(bytes);
 * console.log(hcl.hashType, hcl.runtimeClaims['vm-configuration']);
 * ```
 */
export interface HclReport {
  version: number;
  requestType: number;
  status: number;
  /** The embedded SEV-SNP report (1184 bytes). */
  snpReport: Uint8Array;
  hashType: 'sha256' | 'sha384' | 'sha512';
  /** The runtime claims exactly as hashed into REPORT_DATA. */
  runtimeClaimsBytes: Uint8Array;
  runtimeClaims: { readonly [name: string]: ClaimValue };
  /** The vTPM attestation key (`HCLAkPub`), RSA. */
  akPub: KeyObject;
  /** Zero bytes after the report (the rest of the NV index). */
  padding: number;
}

const CODES = { truncated: 'AZURE_HCL_TRUNCATED', trailing: 'AZURE_HCL_INVALID' } as const;

function invalid(field: string, why: string, offset?: number): CloisterError {
  return new CloisterError(
    'AZURE_HCL_INVALID',
    `${field}: ${why}`,
    offset === undefined ? { field } : { field, offset },
  );
}

function claimsInvalid(why: string, cause?: unknown): CloisterError {
  return new CloisterError('AZURE_RUNTIME_CLAIMS_INVALID', `hcl.runtimeClaims: ${why}`, {
    field: 'hcl.runtimeClaims',
    cause,
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The runtime claims JSON object and the RSA key of its `HCLAkPub` JWK. */
function runtimeClaims(bytes: Uint8Array): { claims: { readonly [name: string]: ClaimValue }; akPub: KeyObject } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch (cause) {
    throw claimsInvalid('not UTF-8 JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw claimsInvalid('not a JSON object');
  const keys = (parsed as Record<string, unknown>)['keys'];
  const jwk = Array.isArray(keys)
    ? (keys as unknown[]).find(
        (k) => typeof k === 'object' && k !== null && (k as Record<string, unknown>)['kid'] === HCL_AK_KID,
      )
    : undefined;
  if (!jwk) throw claimsInvalid(`no "${HCL_AK_KID}" key in "keys"`);
  const { kty, n, e } = jwk as Record<string, unknown>;
  if (kty !== 'RSA' || typeof n !== 'string' || typeof e !== 'string')
    throw claimsInvalid(`"${HCL_AK_KID}" is not an RSA JWK`);
  let akPub: KeyObject;
  try {
    akPub = createPublicKey({ key: { kty, n, e }, format: 'jwk' });
  } catch (cause) {
    throw claimsInvalid(`"${HCL_AK_KID}" is not a usable RSA key`, cause);
  }
  if ((akPub.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_AK_BITS)
    throw claimsInvalid(`"${HCL_AK_KID}" is shorter than ${MIN_AK_BITS} bits`);
  // JSON.parse yields JSON values only, which are claim values.
  return { claims: parsed as { readonly [name: string]: ClaimValue }, akPub };
}

/**
 * Parses an HCL report: header, embedded SNP report, request data, runtime claims (with the vTPM
 * attestation key) and zero padding. Throws `AZURE_HCL_TRUNCATED`, `AZURE_HCL_INVALID` or
 * `AZURE_RUNTIME_CLAIMS_INVALID`; the SNP report itself is parsed by the SNP verifier.
 *
 * @example
 * ```ts
 * const { snpReport, runtimeClaimsBytes, akPub } = parseHclReport(new Uint8Array(readFileSync('hcl-report.bin')));
 * ```
 */
export function parseHclReport(bytes: Uint8Array): HclReport {
  const r = new ByteReader(bytes, CODES);
  if (r.u32le('hcl.header.signature') !== HCL_SIGNATURE) throw invalid('hcl.header.signature', 'not "HCLA"', 0);
  const version = r.u32le('hcl.header.version');
  if (!HEADER_VERSIONS.includes(version))
    throw invalid('hcl.header.version', `${version} is not ${HEADER_VERSIONS.join(' or ')}`, 4);
  const reportSize = r.u32le('hcl.header.reportSize');
  const requestType = r.u32le('hcl.header.requestType');
  const status = r.u32le('hcl.header.status');
  if (!isZero(r.bytes(12, 'hcl.header.reserved'))) throw invalid('hcl.header.reserved', 'not zero', 20);
  const snpReport = r.bytes(SNP_REPORT_SIZE, 'hcl.hwReport');
  const dataAt = r.offset;
  const dataSize = r.u32le('hcl.requestData.dataSize');
  const dataVersion = r.u32le('hcl.requestData.version');
  if (dataVersion !== REQUEST_DATA_VERSION)
    throw invalid('hcl.requestData.version', `${dataVersion} is not ${REQUEST_DATA_VERSION}`, dataAt + 4);
  const reportType = r.u32le('hcl.requestData.reportType');
  if (!HCL_REPORT_TYPES[reportType])
    throw invalid('hcl.requestData.reportType', `${reportType} is not an SEV-SNP report (2)`, dataAt + 8);
  const hashCode = r.u32le('hcl.requestData.reportDataHashType');
  const hashType = HCL_HASH_TYPES[hashCode];
  if (!hashType)
    throw invalid(
      'hcl.requestData.reportDataHashType',
      `${hashCode} is not SHA-256 (1), SHA-384 (2) or SHA-512 (3)`,
      dataAt + 12,
    );
  const variableSize = r.u32le('hcl.requestData.variableDataSize');
  if (dataSize !== REQUEST_DATA_HEADER + variableSize)
    throw invalid(
      'hcl.requestData.dataSize',
      `${dataSize} is not ${REQUEST_DATA_HEADER} + the variable data size ${variableSize}`,
      dataAt,
    );
  if (reportSize !== dataAt + dataSize)
    throw invalid(
      'hcl.header.reportSize',
      `${reportSize} is not the size of header, hardware report and request data (${dataAt + dataSize})`,
      8,
    );
  const runtimeClaimsBytes = r.bytes(variableSize, 'hcl.runtimeClaims');
  const padding = r.rest();
  if (!isZero(padding)) throw invalid('hcl.padding', 'bytes after the report are not zero', reportSize);
  const { claims, akPub } = runtimeClaims(runtimeClaimsBytes);
  return {
    version,
    requestType,
    status,
    snpReport,
    hashType,
    runtimeClaimsBytes,
    runtimeClaims: claims,
    akPub,
    padding: padding.length,
  };
}
