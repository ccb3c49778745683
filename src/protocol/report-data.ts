import { createHash } from 'node:crypto';

/**
 * The 64 bytes of report data that bind `parts` into a workload's or the coordinator's evidence
 * (SGX REPORTDATA, TDX REPORTDATA, SNP REPORT_DATA): SHA-256 over the parts in order, then 32 zero
 * bytes. Activation binds the workload's SPKI and the nonce; the coordinator's quote binds its
 * root certificate and the client's nonce.
 *
 * @example
 * ```ts
 * const reportData = bindingReportData(spki, nonce);
 * ```
 */
export function bindingReportData(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(Buffer.concat([hash.digest(), Buffer.alloc(32)]));
}
