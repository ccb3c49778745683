/**
 * The I/O edge of `attest/`: online DCAP collateral (TCB info, QE identity and CRLs from Intel's
 * PCS (API v4) or a PCCS, in the QuoteCollateralV3 layout `attest/` verifies, with a disk cache
 * kept until nextUpdate), AMD KDS certificates and CRLs, and MAA key sets fetched from a `jku`.
 *
 * @example
 * ```ts
 * import { getCollateral } from 'cloister/collateral';
 * const collateral = await getCollateral({
 *   tee: 'tdx', fmspc: 'B0C06F000000', ca: 'platform', now: Date.now() / 1000, cacheDir: '.cloister/collateral',
 * });
 * ```
 *
 * @packageDocumentation
 */
export { INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL, fetchCollateral, pcsUrls } from './pcs.js';
export type { CollateralRequest, FetchCollateralOptions, PckCa, PcsClientOptions, PcsUrls, Tee } from './pcs.js';
export type { QuoteCollateralV3 } from '../attest/dcap/collateral.js';
export { CACHE_FORMAT, cacheFilePath, collateralNextUpdate, getCollateral, readCacheEntry } from './cache.js';
export type { CollateralCacheEntry, GetCollateralOptions } from './cache.js';
export { extractRawMember } from './raw-json.js';
export { AMD_KDS_URL, fetchKdsCertChain, fetchKdsCrl, fetchVcek, getSnpCollateral, kdsUrls, vcekUrl } from './kds.js';
export type { GetSnpCollateralOptions, KdsClientOptions, VcekRequest } from './kds.js';
export { httpsJwksFetcher, type JwksFetchOptions } from './maa.js';
