import type { TeeKind } from './types.js';

/**
 * Reference values of a package, one row each: which TEEs measure it, how it is written, which
 * claim of a verdict (see `attest/`) it is compared with, and how. MarbleRun "Packages" defines
 * the SGX rows; cloister adds TDX (MRTD, RTMRs) and SEV-SNP (Measurement, HostData).
 *
 * @example
 * ```ts
 * REFERENCE_VALUES.UniqueID.claim;   // 'mrenclave'
 * ```
 */
export const REFERENCE_VALUES = {
  UniqueID: { tees: ['sgx', 'sim'], form: 'hex', bytes: 32, claim: 'mrenclave', compare: 'equal' },
  SignerID: { tees: ['sgx', 'sim'], form: 'hex', bytes: 32, claim: 'mrsigner', compare: 'equal' },
  // SGX report body: ISVPRODID and ISVSVN are 16-bit.
  ProductID: { tees: ['sgx', 'sim'], form: 'u16', bytes: 2, claim: 'isvProdId', compare: 'equal' },
  SecurityVersion: { tees: ['sgx', 'sim'], form: 'u16', bytes: 2, claim: 'isvSvn', compare: 'minimum' },
  MRTD: { tees: ['tdx', 'sim'], form: 'hex', bytes: 48, claim: 'mrtd', compare: 'equal' },
  // RTMRs[i] is compared with claim rtmr<i>; a TD has four.
  RTMRs: { tees: ['tdx', 'sim'], form: 'hex-list', bytes: 48, claim: 'rtmr', compare: 'equal' },
  Measurement: { tees: ['snp', 'sim'], form: 'hex', bytes: 48, claim: 'measurement', compare: 'equal' },
  HostData: { tees: ['snp', 'sim'], form: 'hex', bytes: 32, claim: 'hostData', compare: 'equal' },
} as const satisfies Record<
  string,
  {
    tees: readonly TeeKind[];
    form: 'hex' | 'u16' | 'hex-list';
    bytes: number;
    claim: string;
    compare: 'equal' | 'minimum';
  }
>;

export type ReferenceName = keyof typeof REFERENCE_VALUES;

/** At most this many RTMRs (TDX: RTMR0..RTMR3). */
export const MAX_RTMRS = 4;

/**
 * The TEE kinds a package may name. `identity` lists the alternative sets of reference values
 * that pin a workload: a non-debug package must give exactly one set in full (MarbleRun
 * "Packages": either UniqueID, or SignerID with ProductID and SecurityVersion).
 *
 * @example
 * ```ts
 * PACKAGE_TEES.tdx.identity;   // [['MRTD']]
 * ```
 */
export const PACKAGE_TEES = {
  sgx: { identity: [['UniqueID'], ['SignerID', 'ProductID', 'SecurityVersion']], simulation: false },
  // The simulated platform emulates every TEE (cloister sim emulate): a package pins whichever the program runs on.
  sim: {
    identity: [['UniqueID'], ['SignerID', 'ProductID', 'SecurityVersion'], ['MRTD'], ['Measurement']],
    simulation: true,
  },
  tdx: { identity: [['MRTD']], simulation: false },
  snp: { identity: [['Measurement']], simulation: false },
} as const satisfies Record<TeeKind, { identity: readonly (readonly ReferenceName[])[]; simulation: boolean }>;

export const TEE_NAMES = Object.keys(PACKAGE_TEES) as TeeKind[];
