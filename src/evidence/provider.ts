/**
 * Evidence providers (docs/design.md "Data flow", `evidence/`): where the evidence of the machine
 * cloister runs on comes from. Every provider answers the same question, "evidence whose report
 * data is these 64 bytes", so `cloister run` and the coordinator use them alike.
 */

/**
 * The kinds of evidence a provider produces, one row each: the verifier that checks it (the
 * `tee` of its verdict) and how the 64 bytes of report data are carried.
 *
 * @example `EVIDENCE_KINDS.snp.format` → `'SEV-SNP ATTESTATION_REPORT v2+ followed by the certificate table'`
 */
export const EVIDENCE_KINDS = {
  sgx: { format: 'SGX DCAP quote v3 (REPORTDATA)', reportDataClaim: 'reportData' },
  tdx: { format: 'TDX DCAP quote v4/v5 (REPORTDATA)', reportDataClaim: 'reportData' },
  snp: {
    format: 'SEV-SNP ATTESTATION_REPORT v2+ followed by the certificate table',
    reportDataClaim: 'reportData',
  },
} as const;

/** An evidence kind. @example `const kind: EvidenceKind = 'tdx'` */
export type EvidenceKind = keyof typeof EVIDENCE_KINDS;

/**
 * A source of evidence for this machine.
 *
 * @example
 * ```ts
 * const provider = tsmProvider({ root: '/sys/kernel/config/tsm' });
 * const evidence = await provider.quote(bindingReportData(spki, nonce));
 * ```
 */
export interface EvidenceProvider {
  /** What it produces. */
  readonly tee: EvidenceKind;
  /** Whether it is the simulated platform (its evidence anchors at the simulation roots). */
  readonly simulation: boolean;
  /** Where it gets evidence from, for logs and `--tee auto`'s report (a path, a device). */
  readonly source: string;
  /** Evidence whose report data is exactly `reportData` (64 bytes). */
  quote(reportData: Uint8Array): Promise<Uint8Array>;
  /** Collateral a verifier needs beside the evidence, when the provider has it (the simulated platform's). */
  collateral(): Promise<unknown>;
  /** The root the evidence anchors at when it is not a manufacturer's (the simulation root, DER). */
  readonly trustRoot: Uint8Array | undefined;
}
