import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { parseQeIdentity, parseTcbInfo } from '../attest/dcap/collateral.js';
import { parseCrl } from '../attest/lib/x509.js';
import { fromHex, hex } from '../lib/bytes.js';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { checkRequest, fetchCollateral } from './pcs.js';
import { QUOTE_COLLATERAL_FIELDS, type QuoteCollateralV3 } from '../attest/dcap/collateral.js';
import type { CollateralRequest, FetchCollateralOptions } from './pcs.js';

/**
 * `format` of a cache file. The cache holds one JSON file per (TEE, FMSPC, PCK CA), used until the
 * earliest nextUpdate of its four parts, after which Intel's QVL refuses the set (Intel PCS API v4
 * Appendix A "TCB Info" and B "Enclave Identity"; a CRL's nextUpdate, RFC 5280 §5.1.2.5).
 *
 * @example `entry.format === CACHE_FORMAT`
 */
export const CACHE_FORMAT = 'cloister.collateral-cache.v1';

/**
 * One cache file: the collateral, what it is for, and when it stops being usable.
 *
 * @example
 * ```ts
 * const entry = await readCacheEntry(cacheDir, { tee: 'sgx', fmspc: '00A067110000', ca: 'processor' });
 * if (entry !== undefined && now < entry.nextUpdate) use(entry.collateral);
 * ```
 */
export interface CollateralCacheEntry extends CollateralRequest {
  format: typeof CACHE_FORMAT;
  /** Unix seconds: {@link collateralNextUpdate} of `collateral`. */
  nextUpdate: number;
  collateral: QuoteCollateralV3;
}

/** Options of {@link getCollateral}: what to fetch, how, the clock (Unix seconds) and the cache folder. @example `{ ...request, now: Date.now() / 1000, cacheDir }` */
export interface GetCollateralOptions extends FetchCollateralOptions {
  now: number;
  cacheDir: string;
}

/**
 * The earliest nextUpdate (Unix seconds) of the TCB info, QE identity, PCK CRL and root CA CRL.
 * Throws `attest/`'s `COLLATERAL_MALFORMED` or `CRL_INVALID` if a part cannot be read.
 *
 * @example
 * ```ts
 * collateralNextUpdate(JSON.parse(await readFile('collateral.json', 'utf8'))); // 1752919278 (2025-07-19T10:01:18Z)
 * ```
 */
export function collateralNextUpdate(c: QuoteCollateralV3): number {
  // Text that is not hex is refused by parseCrl as an empty CRL.
  const crl = (text: string): number => parseCrl(fromHex(text) ?? new Uint8Array()).nextUpdate;
  return Math.min(
    parseTcbInfo(c.tcb_info).nextUpdate,
    parseQeIdentity(c.qe_identity).nextUpdate,
    crl(c.pck_crl),
    crl(c.root_ca_crl),
  );
}

/**
 * The cache file of a request: `{cacheDir}/{tee}-{FMSPC}-{ca}.json`.
 *
 * @example
 * ```ts
 * cacheFilePath('/var/cache/cloister', { tee: 'sgx', fmspc: '00a067110000', ca: 'processor' });
 * // '/var/cache/cloister/sgx-00A067110000-processor.json'
 * ```
 */
export function cacheFilePath(cacheDir: string, request: CollateralRequest): string {
  const { tee, fmspc, ca } = checkRequest(request);
  return join(cacheDir, `${tee}-${fmspc}-${ca}.json`);
}

function cacheInvalid(path: string, cause: unknown): CloisterError {
  return new CloisterError(
    'COLLATERAL_CACHE_INVALID',
    `collateral cache ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    { path, cause },
  );
}

/**
 * The cache entry of `request`, or `undefined` when there is none. A file that cannot be read, is
 * for another request, or whose collateral is unreadable or does not match its nextUpdate throws
 * `COLLATERAL_CACHE_INVALID` with `path`.
 *
 * @example `const entry = await readCacheEntry('/var/cache/cloister', { tee: 'sgx', fmspc: '00A067110000', ca: 'processor' });`
 */
export async function readCacheEntry(
  cacheDir: string,
  request: CollateralRequest,
): Promise<CollateralCacheEntry | undefined> {
  const { tee, fmspc, ca } = checkRequest(request);
  const path = cacheFilePath(cacheDir, request);
  try {
    const j = new JsonReader('COLLATERAL_CACHE_INVALID', 'entry');
    const o = j.object(j.parse(await readFile(path, 'utf8')));
    for (const [key, value] of Object.entries({ format: CACHE_FORMAT, tee, fmspc, ca })) j.oneOf(o, key, [value]);
    const c = j.object(o['collateral'], 'entry.collateral');
    const collateral = Object.fromEntries(
      QUOTE_COLLATERAL_FIELDS.map((f) => [f, j.string(c, f, 'entry.collateral')]),
    ) as QuoteCollateralV3;
    const nextUpdate = j.int(o, 'nextUpdate');
    if (collateralNextUpdate(collateral) !== nextUpdate)
      throw j.fail('entry.nextUpdate', 'does not match the collateral');
    if (hex(parseTcbInfo(collateral.tcb_info).fmspc).toUpperCase() !== fmspc)
      throw j.fail('entry.collateral.tcb_info', `is not for FMSPC ${fmspc}`);
    return { format: CACHE_FORMAT, tee, fmspc, ca, nextUpdate, collateral };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cacheInvalid(path, e);
  }
}

/**
 * The collateral of a platform: from the cache while `now` is before the cached set's nextUpdate,
 * otherwise fetched with {@link fetchCollateral}, stored and returned. A cache file that does not
 * check out is replaced; a response that cannot be used is an error and never stored. A fetched set
 * already past its nextUpdate is returned (the verifier judges it) and refetched next time.
 *
 * @example
 * ```ts
 * const collateral = await getCollateral({
 *   tee: 'sgx', fmspc: '00A067110000', ca: 'processor', now: Date.now() / 1000, cacheDir: '/var/cache/cloister',
 * });
 * ```
 */
export async function getCollateral(options: GetCollateralOptions): Promise<QuoteCollateralV3> {
  const request = checkRequest(options);
  // readCacheEntry only throws COLLATERAL_CACHE_INVALID here: such an entry is refetched and replaced.
  const entry = await readCacheEntry(options.cacheDir, request).catch(() => undefined);
  if (entry !== undefined && options.now < entry.nextUpdate) return entry.collateral;
  const collateral = await fetchCollateral({ ...options, ...request });
  const path = cacheFilePath(options.cacheDir, request);
  const next: CollateralCacheEntry = {
    format: CACHE_FORMAT,
    ...request,
    nextUpdate: collateralNextUpdate(collateral),
    collateral,
  };
  // Written beside the entry and renamed over it, so readers see the old file or the new one. A file
  // torn by a crash fails readCacheEntry's checks and is refetched, so nothing is fsynced.
  const tmp = join(options.cacheDir, `.${randomBytes(8).toString('hex')}.tmp`);
  try {
    await mkdir(options.cacheDir, { recursive: true });
    await writeFile(tmp, `${JSON.stringify(next, null, 1)}\n`, { flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw cacheInvalid(path, e);
  }
  return collateral;
}
