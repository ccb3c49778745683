import { createHash } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import type { QuoteCollateralV3 } from '../attest/index.js';
import { simCollateral, simQuote, type SimPlatform } from '../attest/sim/index.js';
import type { EvidenceProvider } from './provider.js';

/**
 * The simulated platform as an evidence provider: real-format SGX quotes signed by the platform
 * in the sim folder, for a given MRENCLAVE, and its collateral. (Simulated TDX and SEV-SNP come
 * through the configfs-tsm provider from an emulated tree, `cloister sim emulate`.)
 */
export interface SimEvidence extends EvidenceProvider {
  tee: 'sgx';
  simulation: true;
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
): SimEvidence {
  let cached: { value: Promise<QuoteCollateralV3>; until: number } | undefined;
  return {
    tee: 'sgx',
    simulation: true,
    source: 'the simulated platform',
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
