import { CloisterError } from '../../lib/errors.js';
import { isZero } from '../../lib/bytes.js';
import { ByteReader } from '../../lib/reader.js';
import { PRODUCT_LINES, decodeTcb, productOfCpuid, type ProductLine, type Tcb, type TcbLayout } from './product.js';

/**
 * The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP Firmware ABI Specification, §7.3 Table 23
 * "ATTESTATION_REPORT Structure"), versions 2 (ABI 1.51), 3 (1.55: CPUID fields) and 5 (1.58:
 * mitigation vectors). 1184 bytes, little-endian; the signature covers bytes 0x000-0x29F.
 */

/** Size of the report. @example `SNP_REPORT_SIZE` → `1184` */
export const SNP_REPORT_SIZE = 0x4a0;
/** Size of the part of the report the signature covers (0x000-0x29F). @example `report.subarray(0, SNP_SIGNED_SIZE)` */
export const SNP_SIGNED_SIZE = 0x2a0;

/** Report versions cloister reads, and the ABI revision that introduced each. @example `SNP_REPORT_VERSIONS[3]` */
export const SNP_REPORT_VERSIONS = {
  2: { abi: '1.51', cpuid: false, mitigationVectors: false },
  3: { abi: '1.55', cpuid: true, mitigationVectors: false },
  5: { abi: '1.58', cpuid: true, mitigationVectors: true },
} as const;

/** A supported report version. @example `const v: SnpReportVersion = 3` */
export type SnpReportVersion = keyof typeof SNP_REPORT_VERSIONS;

/**
 * Guest policy bits (ABI spec §4.3 Table 9 "Guest Policy Structure"): ABI_MINOR 7:0, ABI_MAJOR
 * 15:8, then one flag per bit. Bit 17 is reserved and must be one; bits 63:26 are reserved and
 * must be zero.
 *
 * @example `GUEST_POLICY_FLAGS.debug` → `19`
 */
export const GUEST_POLICY_FLAGS = {
  smt: 16,
  migrateMa: 18,
  debug: 19,
  singleSocket: 20,
  cxlAllow: 21,
  memAes256Xts: 22,
  raplDis: 23,
  ciphertextHiding: 24,
  pageSwapDisable: 25,
} as const;
const POLICY_RESERVED_ONE = 17;
const POLICY_BITS = 26;

/** The signing keys of bits 4:2 at 0x48 (Table 23 SIGNING_KEY); 7 means "no key" and the others are reserved. @example `SIGNING_KEYS[0]` → `'vcek'` */
export const SIGNING_KEYS: Readonly<Record<number, 'vcek' | 'vlek'>> = { 0: 'vcek', 1: 'vlek' };

/** SIGNATURE_ALGO values (ABI spec Table 141 "Signature Algorithm Encodings"): only ECDSA P-384 with SHA-384. */
const ECDSA_P384_SHA384 = 1;

/** A decoded guest policy. @example `report.policy.debug` */
export type SnpGuestPolicy = { raw: number; abiMajor: number; abiMinor: number } & Record<
  keyof typeof GUEST_POLICY_FLAGS,
  boolean
>;

/** Firmware version (CURRENT_/COMMITTED_ MAJOR, MINOR, BUILD). @example `{ major: 1, minor: 55, build: 40 }` */
export interface SnpFirmwareVersion {
  major: number;
  minor: number;
  build: number;
}

/**
 * A parsed report. Byte fields are views into the input.
 *
 * @example
 * ```ts
 * const report = parseSnpReport(bytes);
 * console.log(report.version, report.signingKey, report.reportedTcb.raw);
 * ```
 */
export interface SnpReport {
  version: SnpReportVersion;
  guestSvn: number;
  policy: SnpGuestPolicy;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  currentTcb: Tcb;
  /** PLATFORM_INFO (Table 23): SMT_EN, TSME_EN, ECC_EN, RAPL_DIS, CIPHERTEXT_HIDING_EN, ALIAS_CHECK_COMPLETE, TIO_EN, ... */
  platformInfo: number;
  authorKeyEn: boolean;
  /** MASK_CHIP_KEY: the firmware did not sign the report (the signature is zero). */
  maskChipKey: boolean;
  signingKey: 'vcek' | 'vlek';
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  reportedTcb: Tcb;
  /** CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP (v3+). */
  cpuid: { family: number; model: number; stepping: number } | undefined;
  /** The product line the CPUID names (v3+); v2 reports do not say. */
  product: ProductLine | undefined;
  /** The TCB_VERSION layout of the four TCB fields: Turin's for Turin, the original one otherwise (v2 reports come from Milan and Genoa only). */
  tcbLayout: TcbLayout;
  chipId: Uint8Array;
  committedTcb: Tcb;
  currentVersion: SnpFirmwareVersion;
  committedVersion: SnpFirmwareVersion;
  launchTcb: Tcb;
  /** LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR (v5), 64-bit values in hex. */
  launchMitVector: string | undefined;
  currentMitVector: string | undefined;
  /** Bytes 0x000-0x29F, what the signature covers. */
  signed: Uint8Array;
  /** The signature as IEEE P1363 r ‖ s (48 bytes each, big-endian), for node:crypto. */
  signature: Uint8Array;
}

const CODES = { truncated: 'SNP_REPORT_TRUNCATED', trailing: 'SNP_REPORT_TRAILING_BYTES' } as const;

function reserved(r: ByteReader, n: number, field: string): void {
  const offset = r.base + r.offset;
  if (!isZero(r.bytes(n, field)))
    throw new CloisterError(
      'SNP_REPORT_RESERVED_NONZERO',
      `${field}: ${n} reserved bytes at offset 0x${offset.toString(16)} are not zero`,
      { field, offset },
    );
}

function u64(r: ByteReader, field: string): { lo: number; hi: number } {
  return { lo: r.u32le(`${field}.low`), hi: r.u32le(`${field}.high`) };
}

/** An 8-byte value in hex as a 64-bit number (most significant byte first). */
function u64Hex(r: ByteReader, field: string): string {
  return Buffer.from(r.bytes(8, field)).reverse().toString('hex');
}

function tcb(r: ByteReader, layout: TcbLayout, field: string): Tcb {
  const offset = r.base + r.offset;
  const value = decodeTcb(r.bytes(8, field), layout);
  if (!value)
    throw new CloisterError(
      'SNP_REPORT_RESERVED_NONZERO',
      `${field}: reserved bytes of the TCB_VERSION (${layout} layout) are not zero`,
      { field, offset },
    );
  return value;
}

function firmware(r: ByteReader, field: string): SnpFirmwareVersion {
  const build = r.u8(`${field}.build`);
  const minor = r.u8(`${field}.minor`);
  const major = r.u8(`${field}.major`);
  reserved(r, 1, `${field}.reserved`);
  return { major, minor, build };
}

function guestPolicy(r: ByteReader): SnpGuestPolicy {
  const offset = r.base + r.offset;
  const { lo, hi } = u64(r, 'report.policy');
  if (hi !== 0 || lo >= 2 ** POLICY_BITS)
    throw new CloisterError('SNP_REPORT_RESERVED_NONZERO', 'report.policy: reserved bits 63:26 are not zero', {
      field: 'report.policy',
      offset,
    });
  if (((lo >>> POLICY_RESERVED_ONE) & 1) !== 1)
    throw new CloisterError('SNP_REPORT_INVALID', 'report.policy: reserved bit 17 must be one', {
      field: 'report.policy',
      offset,
    });
  const policy = { raw: lo, abiMinor: lo & 0xff, abiMajor: (lo >>> 8) & 0xff } as SnpGuestPolicy;
  for (const [name, bit] of Object.entries(GUEST_POLICY_FLAGS) as [keyof typeof GUEST_POLICY_FLAGS, number][])
    policy[name] = ((lo >>> bit) & 1) === 1;
  return policy;
}

/** A 72-byte zero-extended little-endian signature component (Table 142) as 48 big-endian bytes. */
function component(r: ByteReader, field: string): Uint8Array {
  const le = r.bytes(72, field);
  if (!isZero(le.subarray(48)))
    throw new CloisterError('SNP_REPORT_RESERVED_NONZERO', `${field}: the zero extension beyond 48 bytes is not zero`, {
      field,
      offset: r.base + r.offset - 24,
    });
  return Uint8Array.from(le.subarray(0, 48)).reverse();
}

/** CPUID_FAM_ID, CPUID_MOD_ID and CPUID_STEP at 0x188 (v3+), read ahead of the fields before them. */
function cpuidOf(bytes: Uint8Array): { family: number; model: number; stepping: number } {
  const r = new ByteReader(bytes, CODES);
  r.bytes(0x188, 'report');
  return {
    family: r.u8('report.cpuid.family'),
    model: r.u8('report.cpuid.model'),
    stepping: r.u8('report.cpuid.stepping'),
  };
}

/**
 * Parses an SEV-SNP attestation report. Every field is read through the bounds-checked reader;
 * reserved bytes and bits must be zero. Throws {@link CloisterError} with an `SNP_REPORT_*` code
 * naming the field.
 *
 * @example
 * ```ts
 * const report = parseSnpReport(new Uint8Array(readFileSync('report.bin')));
 * console.log(Buffer.from(report.measurement).toString('hex'));
 * ```
 */
export function parseSnpReport(bytes: Uint8Array): SnpReport {
  const r = new ByteReader(bytes, CODES);
  const version = r.u32le('report.version');
  if (!Object.hasOwn(SNP_REPORT_VERSIONS, version)) {
    throw new CloisterError(
      'SNP_REPORT_UNSUPPORTED_VERSION',
      `report.version: ${version} is not one of ${Object.keys(SNP_REPORT_VERSIONS).join(', ')}`,
      { field: 'report.version', offset: 0, actual: version },
    );
  }
  const v = SNP_REPORT_VERSIONS[version as SnpReportVersion];
  // CPUID_FAM_ID/MOD_ID (0x188, v3+) decide the TCB layout of every TCB field before them, so they are read first.
  const cpuid = v.cpuid ? cpuidOf(bytes) : undefined;
  const product = cpuid && productOfCpuid(cpuid.family, cpuid.model);
  if (cpuid && !product) {
    throw new CloisterError(
      'SNP_REPORT_INVALID',
      `report.cpuid: family 0x${cpuid.family.toString(16)} model 0x${cpuid.model.toString(16)} is not a SEV-SNP product line cloister knows`,
      { field: 'report.cpuid', offset: 0x188 },
    );
  }
  const tcbLayout: TcbLayout = product ? PRODUCT_LINES[product].tcb : 'legacy';

  const guestSvn = r.u32le('report.guestSvn');
  const policy = guestPolicy(r);
  const familyId = r.bytes(16, 'report.familyId');
  const imageId = r.bytes(16, 'report.imageId');
  const vmpl = r.u32le('report.vmpl');
  if (vmpl > 3)
    throw new CloisterError('SNP_REPORT_INVALID', `report.vmpl: ${vmpl} is not 0 to 3`, {
      field: 'report.vmpl',
      offset: 0x30,
    });
  const signatureAlgo = r.u32le('report.signatureAlgo');
  if (signatureAlgo !== ECDSA_P384_SHA384)
    throw new CloisterError(
      'SNP_REPORT_INVALID',
      `report.signatureAlgo: ${signatureAlgo} is not ECDSA P-384 with SHA-384 (1)`,
      { field: 'report.signatureAlgo', offset: 0x34 },
    );
  const currentTcb = tcb(r, tcbLayout, 'report.currentTcb');
  const info = u64(r, 'report.platformInfo');
  // The reserved high bits of PLATFORM_INFO keep the value a safe JavaScript integer.
  if (info.hi >= 2 ** 21)
    throw new CloisterError('SNP_REPORT_RESERVED_NONZERO', 'report.platformInfo: reserved bits 63:53 are not zero', {
      field: 'report.platformInfo',
      offset: 0x40,
    });
  const flags = r.u32le('report.flags');
  if (flags >>> 5 !== 0)
    throw new CloisterError('SNP_REPORT_RESERVED_NONZERO', 'report.flags: reserved bits 31:5 are not zero', {
      field: 'report.flags',
      offset: 0x48,
    });
  const signingKey = SIGNING_KEYS[(flags >>> 2) & 7];
  if (!signingKey)
    throw new CloisterError(
      'SNP_REPORT_INVALID',
      `report.flags: SIGNING_KEY ${(flags >>> 2) & 7} is neither the VCEK (0) nor the VLEK (1)`,
      { field: 'report.flags', offset: 0x48 },
    );
  reserved(r, 4, 'report.reserved0');
  const reportData = r.bytes(64, 'report.reportData');
  const measurement = r.bytes(48, 'report.measurement');
  const hostData = r.bytes(32, 'report.hostData');
  const idKeyDigest = r.bytes(48, 'report.idKeyDigest');
  const authorKeyDigest = r.bytes(48, 'report.authorKeyDigest');
  const reportId = r.bytes(32, 'report.reportId');
  const reportIdMa = r.bytes(32, 'report.reportIdMa');
  const reportedTcb = tcb(r, tcbLayout, 'report.reportedTcb');
  if (cpuid) r.bytes(3, 'report.cpuid');
  reserved(r, cpuid ? 21 : 24, 'report.reserved1');
  const chipId = r.bytes(64, 'report.chipId');
  const committedTcb = tcb(r, tcbLayout, 'report.committedTcb');
  const currentVersion = firmware(r, 'report.currentVersion');
  const committedVersion = firmware(r, 'report.committedVersion');
  const launchTcb = tcb(r, tcbLayout, 'report.launchTcb');
  const launchMitVector = v.mitigationVectors ? u64Hex(r, 'report.launchMitVector') : undefined;
  const currentMitVector = v.mitigationVectors ? u64Hex(r, 'report.currentMitVector') : undefined;
  reserved(r, SNP_SIGNED_SIZE - r.offset, 'report.reserved2');
  const signed = bytes.subarray(0, SNP_SIGNED_SIZE);
  const rr = component(r, 'report.signature.r');
  const ss = component(r, 'report.signature.s');
  reserved(r, SNP_REPORT_SIZE - r.offset, 'report.signature.reserved');
  r.end('report');
  const signature = new Uint8Array(96);
  signature.set(rr, 0);
  signature.set(ss, 48);
  return {
    version: version as SnpReportVersion,
    guestSvn,
    policy,
    familyId,
    imageId,
    vmpl,
    currentTcb,
    platformInfo: info.lo + info.hi * 2 ** 32,
    authorKeyEn: (flags & 1) === 1,
    maskChipKey: (flags & 2) === 2,
    signingKey,
    reportData,
    measurement,
    hostData,
    idKeyDigest,
    authorKeyDigest,
    reportId,
    reportIdMa,
    reportedTcb,
    cpuid,
    product,
    tcbLayout,
    chipId,
    committedTcb,
    currentVersion,
    committedVersion,
    launchTcb,
    launchMitVector,
    currentMitVector,
    signed,
    signature,
  };
}
