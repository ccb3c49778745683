import { CloisterError } from '../lib/errors.js';

/**
 * Which verifier a piece of binary evidence is for, from its first bytes: a DCAP quote starts with
 * its version (3, 4 or 5, 16-bit) and attestation key type 2 (ECDSA-256-with-P-256, 16-bit), then
 * the TEE type (0 SGX, 0x81 TDX; Intel DCAP Quote Library API, A.3 Quote Header); an SEV-SNP
 * report with its 32-bit version (2, 3 or 5; SEV-SNP ABI Table 23), whose upper half is zero.
 * The chosen parser then checks everything.
 *
 * @example `evidenceKind(quote)` → `'tdx'`
 */
export function evidenceKind(evidence: Uint8Array): 'sgx' | 'tdx' | 'snp' {
  if (evidence.length >= 8) {
    const view = new DataView(evidence.buffer, evidence.byteOffset, evidence.byteLength);
    const version = view.getUint16(0, true);
    const keyType = view.getUint16(2, true);
    if ([3, 4, 5].includes(version) && keyType === 2) return view.getUint32(4, true) === 0x81 ? 'tdx' : 'sgx';
    if ([2, 3, 5].includes(version) && keyType === 0) return 'snp';
  }
  throw new CloisterError('EVIDENCE_INVALID', 'the evidence is neither a DCAP quote nor an SEV-SNP report', {
    field: 'evidence',
  });
}
