import type { TcbStatus } from './tcb-status.js';

/**
 * The TEE kinds cloister verifies: one table, consulted by the CLI (`--tee`), verifiers and
 * policy. `evidence` says what the input is; `identity` names the claims that say *which* code
 * runs (what a relying party pins): any one of them pins it.
 */
export const TEE_KINDS = {
  sgx: { evidence: 'Intel SGX DCAP quote (v3, v4)', identity: ['mrenclave', 'mrsigner'] },
  tdx: { evidence: 'Intel TDX DCAP quote (v4, v5)', identity: ['mrtd'] },
  snp: {
    evidence: 'AMD SEV-SNP attestation report (v2, v3, v5) with VCEK or VLEK chain (--certs)',
    identity: ['measurement', 'hostData'],
  },
  'azure-snp-vtpm': {
    evidence: 'Azure confidential VM evidence: HCL report with SNP report, runtime claims, vTPM quote',
    identity: ['measurement'],
  },
  maa: {
    evidence: 'Microsoft Azure Attestation token (JWT) verified with a key set (--jwks)',
    identity: ['mrenclave', 'mrsigner', 'measurement'],
  },
} as const satisfies Record<string, { evidence: string; identity: readonly string[] }>;

export type TeeKind = keyof typeof TEE_KINDS;

/**
 * A claim value: byte strings as lowercase hex, numbers, booleans, or nested JSON for structured
 * evidence (SNP TCB versions, Azure PCRs and runtime claims).
 */
export type ClaimValue =
  string | number | boolean | null | readonly ClaimValue[] | { readonly [name: string]: ClaimValue };

/** Claims: lower-camel names to {@link ClaimValue}s. */
export type Claims = Record<string, ClaimValue>;

/**
 * What verification concluded about authentic evidence. Whether the status is acceptable is for
 * policy ({@link checkPolicy}) to judge.
 */
export interface Verdict {
  tee: TeeKind;
  tcbStatus: TcbStatus;
  advisoryIds: string[];
  claims: Claims;
  /** Earliest expiry (Unix seconds) among the certificates, CRLs and collateral used. */
  collateralExpiry: number;
  /** True when the evidence is anchored at a trust root other than the manufacturer's (the simulated platform). */
  simulation: boolean;
  /** Details of the DCAP TCB evaluation (SGX and TDX only). */
  tcb?: {
    platformStatus: TcbStatus;
    qeStatus: TcbStatus;
    tdxModuleStatus: TcbStatus | undefined;
    tcbDate: string;
    evaluationDataNumber: number;
  };
  /** Bytes after the declared signature data (not interpreted). */
  trailingBytes: number;
}

/**
 * A claim as text for messages: strings as they are, anything else as JSON, a missing claim as
 * `nothing`.
 *
 * @example `claimText(verdict.claims['vmpl']) // '0'`
 */
export function claimText(value: ClaimValue | undefined): string {
  if (value === undefined) return 'nothing';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
