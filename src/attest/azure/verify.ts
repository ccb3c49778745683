import { createHash } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { hex } from '../../lib/bytes.js';
import { claimText, type Claims, type Verdict } from '../verdict.js';
import { SnpVerifier, type SnpCerts } from '../snp/verify.js';
import { parseAzureEvidence } from './evidence.js';
import { parseHclReport } from './hcl.js';
import { parseTpmQuote, verifyTpmQuote } from './tpm.js';

/** Options of {@link verifyAzureVtpm}. @example `{ now: Date.now() / 1000, nonce }` */
export interface AzureVtpmOptions {
  /** Verification time, Unix seconds. */
  now: number;
  /** The nonce the relying party asked the vTPM to quote (TPMS_ATTEST.extraData); without one, freshness is not checked. */
  nonce?: Uint8Array | undefined;
  /** A DER CRL for the SNP chain (see {@link SnpVerifier.verify}). */
  crl?: Uint8Array | undefined;
  /** The SNP verifier to use (its chain cache, its roots); a shared default one otherwise. */
  verifier?: SnpVerifier | undefined;
}

/** The VMPL of the paravisor that writes the HCL report (trustee `az_snp_vtpm` HCL_VMPL_VALUE). */
const HCL_VMPL = 0;

let shared: SnpVerifier | undefined;

/**
 * Verifies the evidence of an Azure confidential VM (SEV-SNP with a vTPM):
 *
 * 1. the SEV-SNP report inside the HCL report, with the VCEK of the evidence (or `certs.vcek`) and
 *    `certs.ask`/`certs.ark`, as {@link SnpVerifier} does;
 * 2. its VMPL: 0, the paravisor's; its REPORT_DATA: the hash of the HCL runtime claims (SHA-256 for hash type 1), then zeros, so
 *    the runtime claims, and the vTPM attestation key `HCLAkPub` in them, come from that VM;
 * 3. when the evidence has a TPM quote: its signature by `HCLAkPub` (RSASSA), its extraData equal
 *    to `nonce` when one is given, and its PCR digest over the PCR values given (TPM 2.0 Part 2
 *    §10.12). A nonce without a quote is refused.
 *
 * Claims: the SNP claims, `runtimeClaims` (the parsed JSON), and with a quote `pcrs` (`{ "0": hex,
 * … }`, the PCRs the quote covers) and `nonce` (extraData, hex). `tee` is `azure-snp-vtpm`.
 *
 * @example
 * ```ts
 * const evidence = JSON.parse(readFileSync('evidence.json', 'utf8'));
 * const verdict = verifyAzureVtpm(evidence, { ask, ark }, { now: Date.now() / 1000, nonce });
 * console.log(verdict.claims.pcrs, verdict.claims.runtimeClaims);
 * ```
 */
export function verifyAzureVtpm(evidence: unknown, certs: SnpCerts, options: AzureVtpmOptions): Verdict {
  const ev = parseAzureEvidence(evidence);
  const hcl = parseHclReport(ev.hclReport);
  const verifier = options.verifier ?? (shared ??= new SnpVerifier());
  const snp = verifier.verify(
    hcl.snpReport,
    { ...certs, vcek: certs.vcek ?? ev.vcek },
    { now: options.now, crl: options.crl },
  );

  // Only the paravisor runs at VMPL 0; a report from a less privileged level (the guest OS) could
  // carry runtime claims, and an attestation key, of the guest's choosing.
  if (snp.claims['vmpl'] !== HCL_VMPL) {
    throw new CloisterError(
      'AZURE_REPORT_VMPL',
      `the SNP report was issued at VMPL ${claimText(snp.claims['vmpl'])}, not by the paravisor at VMPL ${HCL_VMPL}`,
      { field: 'report.vmpl', expected: HCL_VMPL, actual: snp.claims['vmpl'] },
    );
  }
  const digest = createHash(hcl.hashType).update(hcl.runtimeClaimsBytes).digest();
  const bound = hex(digest).padEnd(128, '0');
  if (snp.claims['reportData'] !== bound) {
    throw new CloisterError(
      'AZURE_REPORT_DATA_MISMATCH',
      `the SNP report data is not the ${hcl.hashType} of the runtime claims followed by zeros`,
      { field: 'report.reportData', expected: bound, actual: snp.claims['reportData'] },
    );
  }

  const claims: Claims = { ...snp.claims, runtimeClaims: hcl.runtimeClaims };
  if (ev.tpmQuote) {
    const quote = parseTpmQuote(ev.tpmQuote.message);
    const pcrs = verifyTpmQuote(quote, ev.tpmQuote.signature, ev.tpmQuote.pcrs, hcl.akPub, options.nonce);
    claims['pcrs'] = Object.fromEntries([...pcrs].map(([index, value]) => [String(index), hex(value)]));
    claims['nonce'] = hex(quote.extraData);
  } else if (options.nonce !== undefined) {
    throw new CloisterError('TPM_QUOTE_MISSING', 'a nonce was given, but the evidence has no TPM quote to carry it', {
      field: 'tpmQuote',
    });
  }
  return { ...snp, tee: 'azure-snp-vtpm', claims };
}
