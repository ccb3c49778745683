import { createHash } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import type { QuoteCollateralV3 } from '../attest/index.js';
import { simCollateral, simQuote, type SimPlatform } from '../attest/sim/index.js';

/**
 * Where evidence comes from. Here, the simulated platform: real-format SGX quotes signed by the
 * platform in the sim folder, for a given MRENCLAVE. (Hardware providers, AESM for SGX and
 * configfs-tsm for TDX, are not part of this build: without a TEE, evidence is simulated.)
 */
export interface EvidenceSource {
  tee: 'sgx';
  simulation: true;
  quote(reportData: Uint8Array): Promise<Uint8Array>;
  collateral(): Promise<QuoteCollateralV3>;
  trustRoot: Uint8Array;
}

const DAY = 86_400;

/** SHA-256 of a name, as the simulated MRSIGNER of cloister's own signing identity. */
export const SIM_MRSIGNER = new Uint8Array(createHash('sha256').update('cloister simulated signer').digest());

/**
 * Evidence of the simulated platform for one measured program.
 *
 * @example
 * ```ts
 * const source = simEvidence(platform, { mrEnclave: measure(program) });
 * const quote = await source.quote(reportData);
 * ```
 */
export function simEvidence(
  p: SimPlatform,
  id: { mrEnclave: Uint8Array; mrSigner?: Uint8Array; isvProdId?: number; isvSvn?: number },
  now: () => number = () => Date.now() / 1000,
): EvidenceSource {
  let cached: { value: Promise<QuoteCollateralV3>; until: number } | undefined;
  return {
    tee: 'sgx',
    simulation: true,
    trustRoot: p.root.cert.der,
    async quote(reportData) {
      if (reportData.length !== 64) throw new CloisterError('USAGE', 'report data must be 64 bytes');
      return simQuote(p, {
        mrEnclave: id.mrEnclave,
        mrSigner: id.mrSigner ?? SIM_MRSIGNER,
        isvProdId: id.isvProdId ?? 0,
        isvSvn: id.isvSvn ?? 0,
        reportData,
      });
    },
    collateral() {
      // Simulated collateral is valid for 30 days; renewed a day before it ends.
      if (!cached || now() > cached.until)
        cached = { value: simCollateral(p, { now: now(), tee: 'sgx' }), until: now() + 29 * DAY };
      return cached.value;
    },
  };
}
