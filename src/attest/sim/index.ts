/**
 * The simulated TEE (DESIGN.md "The simulated TEE"): a locally generated platform whose quotes
 * and collateral are in Intel's real formats, verified by `DcapVerifier` with the simulation
 * root as trust anchor.
 *
 * @example
 * ```ts
 * const platform = await createSimPlatform({ now });
 * const quote = simQuote(platform, { mrEnclave, mrSigner, isvProdId: 1, isvSvn: 1 });
 * const verifier = new DcapVerifier(customRoot(platform.root.cert.der));
 * const verdict = verifier.verify(quote, { now, collateral: verifier.prepare(await simCollateral(platform, { now, tee: 'sgx' })) });
 * ```
 */
export { SIM, createSimPlatform, exportSimState, importSimState } from './platform.js';
export type { SimIdentity, SimPlatform, SimPlatformOptions, SimState } from './platform.js';
export { simQuote } from './quote.js';
export type { SimQuoteOptions, SimSgxQuoteOptions, SimTdxQuoteOptions } from './quote.js';
export { simCollateral } from './collateral.js';
export type { SimCollateral, SimCollateralOptions } from './collateral.js';
export {
  SIM_SNP,
  createSimSnpPlatform,
  exportSimSnpState,
  importSimSnpState,
  simSnpReport,
  simSnpCertTable,
} from './snp.js';
export type { SimSnpPlatform, SimSnpState, SimSnpReportOptions } from './snp.js';
