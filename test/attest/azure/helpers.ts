import { createHash } from 'node:crypto';

import type { AzureVtpmEvidence, SnpCerts } from '../../../src/attest/index.js';
import { bytes, text } from '../snp/helpers.js';

/** Azure vTPM vectors, as the tests use them. */

export const GENOA_EVIDENCE = 'azure-vtpm/trustee-azure-snp-vtpm-evidence-genoa';
export const MILAN_V2_EVIDENCE = 'azure-vtpm/trustee-azure-snp-vtpm-evidence-v2-milan';
export const HCL_ONLY = 'azure-vtpm/trustee-azure-snp-hcl';
export const UNPAIRED = 'common/kinvolk-azure-hcl-unpaired';

export interface AzureExpected {
  verify_at_unix: number;
  expected_report_data_nonce?: string;
  expected_pcr0?: string;
  snp_report?: Record<string, unknown>;
  report?: Record<string, unknown>;
  tpm_attest?: { pcr_digest: string; extra_data: string };
  hcl?: { runtime_claims_json: unknown };
}

export function azureExpected(name: string): AzureExpected {
  return JSON.parse(text(`${name}/expected.json`)) as AzureExpected;
}

/** The evidence.json object of a vector (a fresh copy). */
export function evidenceJson(name: string): Record<string, unknown> {
  return JSON.parse(text(`${name}/evidence.json`)) as Record<string, unknown>;
}

/** The ASK and ARK of a vector. */
export function chainOf(name: string): SnpCerts {
  return { ask: text(`${name}/ask.pem`), ark: text(`${name}/ark.pem`) };
}

/** The trustee v1 evidence as the files form: HCL report, VCEK DER, quote parts as bytes. */
export function filesOf(json: Record<string, unknown>): AzureVtpmEvidence {
  const q = json['quote'] as { message: number[]; signature: number[]; pcrs: number[][] };
  const vcekPem = json['vcek'] as string;
  return {
    hclReport: Uint8Array.from(json['report'] as number[]),
    vcek: new Uint8Array(Buffer.from(vcekPem.replace(/-----[^-]+-----|\s/g, ''), 'base64')),
    tpmQuote: {
      message: Uint8Array.from(q.message),
      signature: Uint8Array.from(q.signature),
      pcrs: q.pcrs.map((p) => Uint8Array.from(p)),
    },
  };
}

/** Offsets in an HCL report: header, SNP report, request data, runtime claims. */
export const HCL_AT = {
  version: 4,
  reportSize: 8,
  reserved: 20,
  snp: 32,
  requestData: 1216,
  reportType: 1224,
  hashType: 1228,
  claims: 1236,
} as const;

/** The runtime claims bytes of an HCL report (its declared variable data). */
export function claimsBytes(hcl: Uint8Array): Uint8Array {
  const size = new DataView(hcl.buffer, hcl.byteOffset).getUint32(HCL_AT.requestData + 16, true);
  return hcl.subarray(HCL_AT.claims, HCL_AT.claims + size);
}

export function sha256(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}

/** A copy of `hcl` whose runtime claims text has `from` replaced by `to` (same length). */
export function editClaims(hcl: Uint8Array, from: string, to: string): Uint8Array {
  if (from.length !== to.length) throw new Error('same length only');
  const out = Uint8Array.from(hcl);
  const claims = Buffer.from(claimsBytes(hcl)).toString('latin1');
  const at = claims.indexOf(from);
  if (at < 0) throw new Error(`"${from}" not in the runtime claims`);
  out.set(Buffer.from(to, 'latin1'), HCL_AT.claims + at);
  return out;
}

export { bytes, text };
