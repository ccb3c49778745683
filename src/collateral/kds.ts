import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { boundedGet } from '../lib/http-get.js';

import { amdExtensions, ENDORSEMENT_KEYS, type EndorsementKind } from '../attest/snp/endorsement.js';
import {
  PRODUCT_LINES,
  PRODUCT_LINE_NAMES,
  TCB_COMPONENTS,
  TCB_LAYOUTS,
  type ProductLine,
  type TcbComponent,
} from '../attest/snp/product.js';
import { parseSnpReport } from '../attest/snp/report.js';
import type { SnpCerts } from '../attest/snp/verify.js';
import { parseCertificate, parseCrl, pemCertificates } from '../attest/lib/x509.js';
import { equal, hex } from '../lib/bytes.js';
import { CloisterError } from '../lib/errors.js';

/**
 * AMD's Key Distribution Service, the default base URL. Paths and parameters are those of AMD's
 * "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface Specification" §4
 * (`/vcek/v1/{product}/{hwid}?blSPL=…`, `/vcek/v1/{product}/cert_chain`, `/vcek/v1/{product}/crl`,
 * and the same under `/vlek/v1/` for the VLEK chain).
 *
 * @example `kdsUrls('Genoa', 'vcek').certChain` → `'https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain'`
 */
export const AMD_KDS_URL = 'https://kdsintf.amd.com';

/**
 * How to reach the KDS (or a cache that serves its paths). TLS is verified against Node's trust
 * store (add a private CA with `NODE_EXTRA_CA_CERTS`).
 *
 * @example `{ baseUrl: 'http://kds-cache.internal:8080', timeoutMs: 10_000 }`
 */
export interface KdsClientOptions {
  /** Default {@link AMD_KDS_URL}. */
  baseUrl?: string;
  /** Time limit of each request, connection to last byte. Default 30 000. */
  timeoutMs?: number;
  /** Size limit of each response body. Default 64 KiB (a cert chain is ~4.5 KiB, a CRL ~1 KiB). */
  maxResponseBytes?: number;
}

/** A VCEK to fetch: the product line, the chip's hwID (hex: 64 bytes, 8 on Turin) and the TCB it was derived for. @example `{ product: 'Milan', hwid: '3ac3…', tcb: { bootloader: 2, tee: 0, snp: 5, microcode: 68 } }` */
export interface VcekRequest {
  product: ProductLine;
  hwid: string;
  tcb: Readonly<Partial<Record<TcbComponent, number>>>;
}

/** The chain and CRL URLs of a product line and key kind. @example `kdsUrls('Milan', 'vlek').crl` */
export function kdsUrls(
  product: ProductLine,
  kind: EndorsementKind = 'vcek',
  options: Pick<KdsClientOptions, 'baseUrl'> = {},
): { certChain: string; crl: string } {
  const at = (path: string): string => new URL(`${kind}/v1/${product}/${path}`, base(options)).href;
  return { certChain: at('cert_chain'), crl: at('crl') };
}

function base(options: Pick<KdsClientOptions, 'baseUrl'>): URL {
  const root = new URL(options.baseUrl ?? AMD_KDS_URL);
  root.pathname = `${root.pathname.replace(/\/+$/, '')}/`;
  return root;
}

/** The request with its hwID checked against the product line and lower-cased, its TCB complete for the line's layout. */
function checkVcekRequest(request: VcekRequest): VcekRequest {
  const line = PRODUCT_LINES[request.product] as (typeof PRODUCT_LINES)[ProductLine] | undefined;
  if (!line)
    throw new CloisterError('COLLATERAL_FETCH_FAILED', `product must be one of ${PRODUCT_LINE_NAMES.join(', ')}`, {
      field: 'product',
    });
  if (!new RegExp(`^[0-9a-fA-F]{${line.chipIdBytes * 2}}$`).test(request.hwid)) {
    throw new CloisterError(
      'COLLATERAL_FETCH_FAILED',
      `hwid must be ${line.chipIdBytes} bytes of hex for ${request.product}`,
      { field: 'hwid' },
    );
  }
  for (const component of Object.keys(TCB_LAYOUTS[line.tcb].components) as TcbComponent[]) {
    const spl = request.tcb[component];
    if (spl === undefined || !Number.isInteger(spl) || spl < 0 || spl > 255)
      throw new CloisterError('COLLATERAL_FETCH_FAILED', `tcb.${component} must be an integer from 0 to 255`, {
        field: `tcb.${component}`,
      });
  }
  return { product: request.product, hwid: request.hwid.toLowerCase(), tcb: request.tcb };
}

/**
 * The URL of a VCEK: `{base}/vcek/v1/{product}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..`,
 * with `fmcSPL` first on Turin (VCEK spec §4.1).
 *
 * @example
 * ```ts
 * vcekUrl({ product: 'Milan', hwid, tcb: { bootloader: 2, tee: 0, snp: 5, microcode: 68 } });
 * // 'https://kdsintf.amd.com/vcek/v1/Milan/3ac3…6b5d?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68'
 * ```
 */
export function vcekUrl(request: VcekRequest, options: Pick<KdsClientOptions, 'baseUrl'> = {}): string {
  const { product, hwid, tcb } = checkVcekRequest(request);
  const components = Object.keys(TCB_COMPONENTS).filter(
    (c) => c in TCB_LAYOUTS[PRODUCT_LINES[product].tcb].components,
  ) as TcbComponent[];
  const query = components.map((c) => `${TCB_COMPONENTS[c].kdsParam}=${tcb[c] as number}`).join('&');
  return new URL(`vcek/v1/${product}/${hwid}?${query}`, base(options)).href;
}

/** GET `url` from AMD's KDS (which answers 429 when asked too often, 404 for an unknown hwID or TCB). */
async function get(url: string, o: KdsClientOptions): Promise<Uint8Array> {
  const { body } = await boundedGet(new URL(url), {
    timeoutMs: o.timeoutMs ?? 30_000,
    maxBytes: o.maxResponseBytes ?? 64 * 1024,
    codes: { failed: 'COLLATERAL_FETCH_FAILED', tooLarge: 'COLLATERAL_RESPONSE_INVALID' },
  });
  return new Uint8Array(body);
}

/** Runs `read` on a body; what it throws becomes COLLATERAL_RESPONSE_INVALID. */
function reading<T>(url: string, field: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    throw new CloisterError(
      'COLLATERAL_RESPONSE_INVALID',
      `GET ${url}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { url, status: 200, field, cause },
    );
  }
}

/**
 * Fetches the VCEK of a chip at a TCB (DER). The answer must be a certificate whose AMD
 * extensions are the requested product line, hwID and TCB. Nothing is verified cryptographically
 * here (that is `attest/`'s job). Throws `COLLATERAL_FETCH_FAILED` (network, timeout, non-200) or
 * `COLLATERAL_RESPONSE_INVALID`.
 *
 * @example
 * ```ts
 * const vcek = await fetchVcek({ product: 'Genoa', hwid: chipIdHex, tcb: { bootloader: 10, tee: 0, snp: 23, microcode: 84 } });
 * ```
 */
export async function fetchVcek(request: VcekRequest & KdsClientOptions): Promise<Uint8Array> {
  const checked = checkVcekRequest(request);
  const url = vcekUrl(checked, request);
  const der = await get(url, request);
  reading(url, 'vcek', () => checkVcek(der, checked));
  return der;
}

/** A VCEK is the one requested: its product line, hwID and every TCB component. */
function checkVcek(der: Uint8Array, request: VcekRequest): void {
  const ext = amdExtensions(parseCertificate(der), 'vcek');
  const wanted = Object.entries(ext.tcb).every(([c, spl]) => request.tcb[c as TcbComponent] === spl);
  if (ext.product !== request.product || hex(ext.hwid as Uint8Array) !== request.hwid || !wanted) {
    throw new Error(
      `the VCEK is for ${ext.product} ${hex(ext.hwid as Uint8Array)} ${JSON.stringify(ext.tcb)}, not the requested one`,
    );
  }
}

/**
 * Fetches the intermediate and root of a product line (`cert_chain`: PEM, the ASK or ASVK, then the
 * ARK), as {@link SnpCerts} fields.
 *
 * @example
 * ```ts
 * const { ask, ark } = await fetchKdsCertChain({ product: 'Milan' });
 * ```
 */
export async function fetchKdsCertChain(
  request: { product: ProductLine; kind?: EndorsementKind } & KdsClientOptions,
): Promise<SnpCerts> {
  const kind = request.kind ?? 'vcek';
  const url = kdsUrls(request.product, kind, request).certChain;
  const body = await get(url, request);
  return reading(url, 'cert_chain', () => splitChain(Buffer.from(body).toString('latin1'), kind));
}

/** A `cert_chain` PEM as `{ ask, ark }` (or `{ asvk, ark }`), each one PEM block. */
function splitChain(pem: string, kind: EndorsementKind): SnpCerts {
  const ders = pemCertificates(pem, 'cert_chain');
  if (ders.length !== 2)
    throw new Error(`cert_chain: expected 2 certificates (intermediate, ARK), found ${ders.length}`);
  const [intermediate, ark] = ders.map((der) => {
    parseCertificate(der);
    return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  }) as [string, string];
  return { [ENDORSEMENT_KEYS[kind].issuer]: intermediate, ark };
}

/**
 * Fetches the CRL of a product line's ARK (DER).
 *
 * @example `const crl = await fetchKdsCrl({ product: 'Genoa' });`
 */
export async function fetchKdsCrl(
  request: { product: ProductLine; kind?: EndorsementKind } & KdsClientOptions,
): Promise<Uint8Array> {
  const url = kdsUrls(request.product, request.kind ?? 'vcek', request).crl;
  const der = await get(url, request);
  reading(url, 'crl', () => parseCrl(der));
  return der;
}

/** Options of {@link getSnpCollateral}: the report, the clock (Unix seconds), the cache folder, and the product line for v2 reports (which do not state it). @example `{ report, now: Date.now() / 1000, cacheDir }` */
export interface GetSnpCollateralOptions extends KdsClientOptions {
  report: Uint8Array;
  now: number;
  cacheDir: string;
  product?: ProductLine;
}

/**
 * Everything {@link SnpVerifier} needs for a report, from the disk cache or AMD's KDS: the VCEK for
 * the report's CHIP_ID and REPORTED_TCB, the ASK and ARK, and the ARK's CRL. Cache files live
 * under `{cacheDir}/kds/{product}/`: certificates by what they are for (used while valid at
 * `now`), the CRL until its nextUpdate. A cache file that does not parse is refetched and
 * replaced. For a VLEK-signed report the ASVK chain and its CRL are returned; VLEKs themselves
 * are not public (the cloud provider supplies them).
 *
 * @example
 * ```ts
 * const { certs, crl } = await getSnpCollateral({ report, now: Date.now() / 1000, cacheDir: '/var/cache/cloister' });
 * const verdict = new SnpVerifier().verify(report, certs, { now: Date.now() / 1000, crl });
 * ```
 */
export async function getSnpCollateral(
  options: GetSnpCollateralOptions,
): Promise<{ certs: SnpCerts; crl: Uint8Array }> {
  const report = parseSnpReport(options.report);
  const product = report.product ?? options.product;
  if (product === undefined)
    throw new CloisterError(
      'COLLATERAL_FETCH_FAILED',
      `a version ${report.version} report does not state its product line: give it (${PRODUCT_LINE_NAMES.join(', ')})`,
      { field: 'product' },
    );
  const kind = report.signingKey;
  const dir = join(options.cacheDir, 'kds', product);
  const { now } = options;

  const chain = await cached(
    join(dir, `${kind}-cert_chain.pem`),
    now,
    async () => {
      const certs = await fetchKdsCertChain({ ...options, product, kind });
      return Buffer.from(`${certs[ENDORSEMENT_KEYS[kind].issuer] ?? ''}${certs.ark ?? ''}`);
    },
    (bytes) => {
      const ders = pemCertificates(Buffer.from(bytes).toString('latin1'), 'cert_chain').map(parseCertificate);
      if (ders.length !== 2) throw new Error('not two certificates');
      return Math.min(...ders.map((c) => c.notAfter));
    },
  );
  const crl = await cached(
    join(dir, `${kind}-crl.der`),
    now,
    () => fetchKdsCrl({ ...options, product, kind }),
    (bytes) => parseCrl(bytes).nextUpdate,
  );
  const certs: SnpCerts = { ...splitChain(Buffer.from(chain).toString('latin1'), kind) };
  if (kind === 'vcek') {
    const components = Object.keys(TCB_LAYOUTS[PRODUCT_LINES[product].tcb].components) as TcbComponent[];
    const request: VcekRequest = {
      product,
      hwid: hex(report.chipId.subarray(0, PRODUCT_LINES[product].chipIdBytes)),
      tcb: Object.fromEntries(components.map((c) => [c, report.reportedTcb[c]])),
    };
    const tcbName = components.map((c) => request.tcb[c]).join('-');
    certs.vcek = await cached(
      join(dir, `vcek-${request.hwid}-${tcbName}.der`),
      now,
      () => fetchVcek({ ...options, ...request }),
      (bytes) => {
        checkVcek(bytes, checkVcekRequest(request));
        return parseCertificate(bytes).notAfter;
      },
    );
  }
  return { certs, crl };
}

/**
 * The bytes of a cache file while `usableUntil` (which parses them) says they are usable at `now`;
 * otherwise fetched, stored (written beside and renamed over, so readers see the old file or the
 * new one) and returned. A fetched answer already past its time is returned and refetched next time.
 */
async function cached(
  path: string,
  now: number,
  fetchIt: () => Promise<Uint8Array>,
  usableUntil: (bytes: Uint8Array) => number,
): Promise<Uint8Array> {
  const old = await readFile(path).then(
    (b) => new Uint8Array(b),
    () => undefined,
  );
  if (old !== undefined) {
    try {
      if (now < usableUntil(old)) return old;
    } catch {
      // Unreadable: refetched and replaced below.
    }
  }
  const fresh = await fetchIt();
  if (old !== undefined && equal(old, fresh)) return fresh;
  const dir = join(path, '..');
  const tmp = join(dir, `.${randomBytes(8).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, fresh, { flag: 'wx' });
    await rename(tmp, path);
  } catch (cause) {
    await unlink(tmp).catch(() => undefined);
    throw new CloisterError(
      'COLLATERAL_CACHE_INVALID',
      `KDS cache ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { path, cause },
    );
  }
  return fresh;
}
