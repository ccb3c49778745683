import { boundedGet, type GetAnswer } from '../lib/http-get.js';
import { parseQeIdentity, parseTcbInfo, type QuoteCollateralV3 } from '../attest/dcap/collateral.js';
import { parseCrl, pemCertificates } from '../attest/lib/x509.js';
import { fromHex, hex } from '../lib/bytes.js';
import { CloisterError } from '../lib/errors.js';
import { extractRawMember } from './raw-json.js';

/**
 * Intel's Provisioning Certification Service, the default base URL. A PCCS serves the same paths
 * under its own. Section names below are those of the Intel PCS API v4
 * (https://api.portal.trustedservices.intel.com/content/documentation.html).
 *
 * @example `pcsUrls(request, { baseUrl: INTEL_PCS_URL })`
 */
export const INTEL_PCS_URL = 'https://api.trustedservices.intel.com';

/**
 * The CRL distribution point of the Intel SGX Root CA, used with Intel's PCS (which has no root CA
 * CRL endpoint; a PCCS serves it at `/sgx/certification/v4/rootcacrl`).
 *
 * @example `fetchCollateral({ ...request, rootCaCrlUrl: INTEL_ROOT_CA_CRL_URL })`
 */
export const INTEL_ROOT_CA_CRL_URL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';

/** The TEE whose collateral is fetched (`/sgx/` or `/tdx/` paths). @example `const tee: Tee = 'tdx'` */
export type Tee = 'sgx' | 'tdx';

/** The PCK CA that issued the platform's PCK certificate ("Get PCK Cert CRL" `ca`). @example `const ca: PckCa = 'platform'` */
export type PckCa = 'processor' | 'platform';

/** Which collateral: the TEE, the platform's FMSPC (6 bytes, hex) and its PCK CA. @example `{ tee: 'sgx', fmspc: '00A067110000', ca: 'processor' }` */
export interface CollateralRequest {
  tee: Tee;
  fmspc: string;
  ca: PckCa;
}

/**
 * How to reach the PCS or a PCCS.
 *
 * @example
 * ```ts
 * const pccs: PcsClientOptions = { baseUrl: 'https://localhost:8081/sgx/certification/v4/', tlsCa: pccsCertPem };
 * ```
 */
export interface PcsClientOptions {
  /** Default {@link INTEL_PCS_URL}. A trailing `/{sgx,tdx}/certification/v4/`, as in Intel QCNL's `pccs_url`, is removed. */
  baseUrl?: string;
  /** Default {@link INTEL_ROOT_CA_CRL_URL} for Intel's PCS, `{baseUrl}/sgx/certification/v4/rootcacrl` otherwise. */
  rootCaCrlUrl?: string;
  /** PCS subscription key, sent as `Ocp-Apim-Subscription-Key` to `baseUrl`'s origin only. */
  apiKey?: string;
  /** Time limit of each request, connection to last byte. Default 30 000. */
  timeoutMs?: number;
  /** Size limit of each response body. Default 1 MiB (Intel's largest answer, TDX TCB info, is ~20 KiB). */
  maxResponseBytes?: number;
  /** Trusted TLS CA(s), PEM, for a PCCS with a self-signed certificate (`ca` is the PCK CA). */
  tlsCa?: string | Buffer | Array<string | Buffer>;
  /** Default `true`. Collateral is signed by Intel, so `false` costs confidentiality, not integrity. */
  rejectUnauthorized?: boolean;
}

/** Options of {@link fetchCollateral}. @example `{ tee: 'sgx', fmspc: '00A067110000', ca: 'processor', apiKey }` */
export type FetchCollateralOptions = CollateralRequest & PcsClientOptions;

/** The four URLs collateral is fetched from. @example `pcsUrls(request).tcbInfo` */
export type PcsUrls = Record<'tcbInfo' | 'qeIdentity' | 'pckCrl' | 'rootCaCrl', string>;

/** The request with its FMSPC checked and upper-cased: it goes into URLs and cache file names. */
export function checkRequest({ tee, fmspc, ca }: CollateralRequest): CollateralRequest {
  if (!/^[0-9a-fA-F]{12}$/.test(fmspc))
    throw new CloisterError('COLLATERAL_FETCH_FAILED', 'fmspc must be 6 bytes of hex', { field: 'fmspc' });
  return { tee, fmspc: fmspc.toUpperCase(), ca };
}

/**
 * The URLs {@link fetchCollateral} requests.
 *
 * @example
 * ```ts
 * pcsUrls({ tee: 'tdx', fmspc: '00806f050000', ca: 'platform' }).tcbInfo;
 * // 'https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=00806F050000'
 * ```
 */
export function pcsUrls(
  request: CollateralRequest,
  options: Pick<PcsClientOptions, 'baseUrl' | 'rootCaCrlUrl'> = {},
): PcsUrls {
  const { tee, fmspc, ca } = checkRequest(request);
  const root = new URL(options.baseUrl ?? INTEL_PCS_URL);
  root.pathname = `${root.pathname.replace(/\/+$/, '').replace(/\/(?:sgx|tdx)\/certification\/v4$/, '')}/`;
  const at = (path: string): string => new URL(path, root).href;
  return {
    // "Get TCB Info" / "Get TDX TCB Info"
    tcbInfo: at(`${tee}/certification/v4/tcb?fmspc=${fmspc}`),
    // "Get Intel's QE Identity" / "Get Intel's TDX QE Identity"
    qeIdentity: at(`${tee}/certification/v4/qe/identity`),
    // "Get PCK Cert CRL", under /sgx/ for TDX too
    pckCrl: at(`sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`),
    rootCaCrl:
      options.rootCaCrlUrl ??
      (root.hostname === new URL(INTEL_PCS_URL).hostname
        ? INTEL_ROOT_CA_CRL_URL
        : at('sgx/certification/v4/rootcacrl')),
  };
}

type Answer = GetAnswer;

/** GET `target`; 200 is the only success of every v4 operation ("Status codes"). */
function get(target: URL, o: PcsClientOptions, apiKeyOrigin: string, signal: AbortSignal): Promise<Answer> {
  return boundedGet(target, {
    headers: o.apiKey !== undefined && target.origin === apiKeyOrigin ? { 'ocp-apim-subscription-key': o.apiKey } : {},
    timeoutMs: o.timeoutMs ?? 30_000,
    maxBytes: o.maxResponseBytes ?? 1024 * 1024,
    tlsCa: o.tlsCa,
    rejectUnauthorized: o.rejectUnauthorized,
    signal,
    codes: { failed: 'COLLATERAL_FETCH_FAILED', tooLarge: 'COLLATERAL_RESPONSE_INVALID' },
    // Request-ID comes with every answer, Error-Code and Error-Message with a 400.
    statusDetails: (headers) =>
      ['Request-ID', 'Error-Code', 'Error-Message']
        .flatMap((name) => {
          const value = headers[name.toLowerCase()];
          return value === undefined
            ? []
            : [
                `${name}: ${String(value)
                  // eslint-disable-next-line no-control-regex -- control characters are exactly what a header must not carry into a message
                  .replace(/[\u0000-\u001f\u007f]/g, ' ')
                  .slice(0, 300)}`,
              ];
        })
        .join(', '),
  });
}

function invalid(res: Answer, field: string, why: string, cause?: unknown): CloisterError {
  return new CloisterError('COLLATERAL_RESPONSE_INVALID', `GET ${res.url}: ${why}`, {
    url: res.url,
    status: 200,
    field,
    cause,
  });
}

/** Runs `read` on a response; what it throws becomes COLLATERAL_RESPONSE_INVALID naming the field at fault. */
function reading<T>(res: Answer, field: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    const at = e instanceof CloisterError ? (e.field ?? e.path) : undefined;
    throw invalid(res, at ?? field, e instanceof Error ? e.message : String(e), e);
  }
}

/** The URL-encoded PEM chain of an issuer-chain header ("... Issuer-Chain": "PEM, URL-encoded"); the first name present wins. */
function issuerChain(res: Answer, ...names: [string, ...string[]]): string {
  const header = names.find((name) => res.headers[name.toLowerCase()] !== undefined) ?? names[0];
  return reading(res, header, () => {
    const value = res.headers[header.toLowerCase()];
    if (typeof value !== 'string') throw new Error(`header ${names.join(' or ')} is missing`);
    // Percent-decoding only: '+' is a base64 character here, not an encoded space.
    const pem = decodeURIComponent(value);
    pemCertificates(pem, header);
    return pem;
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A `{ "<member>": {...}, "signature": "<hex>" }` body (Appendix A "TCB Info", B "Enclave Identity"); the member's text as served. */
function signedJson<T extends { id: string }>(res: Answer, member: string, parse: (text: string) => T, id: string) {
  const { text, signature } = reading(res, member, () => {
    const body = utf8.decode(res.body);
    const text = extractRawMember(body, member);
    const signature: unknown = JSON.parse(extractRawMember(body, 'signature'));
    // ECDSA P-256 r ‖ s: 64 bytes.
    if (typeof signature !== 'string' || fromHex(signature)?.length !== 64)
      throw new CloisterError('COLLATERAL_RESPONSE_INVALID', 'signature is not 64 bytes of hex', {
        field: 'signature',
      });
    return { text, signature: signature.toLowerCase() };
  });
  const value = reading(res, member, () => parse(text));
  if (value.id !== id) throw invalid(res, `${member}.id`, `${member}.id is ${value.id}, not ${id}`);
  return { text, signature, value };
}

/** A CRL body as hex DER. PCS answers DER for `encoding=der`, PEM without it; older PCCS answer hex text. */
function crl(res: Answer, field: string): string {
  const text = res.body.toString('latin1').trim();
  const pem = /^-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----$/.exec(text)?.[1];
  let cause: unknown;
  for (const der of [res.body, pem === undefined ? undefined : Buffer.from(pem, 'base64'), fromHex(text)]) {
    if (der === undefined) continue;
    try {
      parseCrl(der);
      return hex(der);
    } catch (e) {
      cause ??= e;
    }
  }
  throw invalid(res, field, 'body is not a CRL (DER, PEM or hex)', cause);
}

// Appendix A tcbInfo.id and Appendix B enclaveIdentity.id of each TEE.
const IDS = { sgx: { tcbInfo: 'SGX', qe: 'QE' }, tdx: { tcbInfo: 'TDX', qe: 'TD_QE' } } as const;

/**
 * Fetches the collateral of one platform from Intel's PCS or a PCCS, four requests at once. Nothing
 * is verified cryptographically here (that is `attest/`'s job). Throws {@link CloisterError}
 * `COLLATERAL_FETCH_FAILED` (network, TLS, timeout, non-200 such as 404 for an unknown FMSPC) or
 * `COLLATERAL_RESPONSE_INVALID` (an unusable 200 answer), with `url`, `status` and `field`.
 *
 * @example
 * ```ts
 * const collateral = await fetchCollateral({
 *   tee: 'tdx', fmspc: 'B0C06F000000', ca: 'platform', baseUrl: 'https://pccs.internal:8081', tlsCa: pccsCertPem,
 * });
 * ```
 */
export async function fetchCollateral(options: FetchCollateralOptions): Promise<QuoteCollateralV3> {
  const { tee, fmspc } = checkRequest(options);
  const urls = pcsUrls(options, options);
  const apiKeyOrigin = new URL(urls.tcbInfo).origin;
  const abort = new AbortController();
  // The first failure decides; the other requests are cancelled.
  const load = <T>(url: string, read: (res: Answer) => T): Promise<T> =>
    get(new URL(url), options, apiKeyOrigin, abort.signal)
      .then(read)
      .catch((e: unknown) => {
        abort.abort();
        throw e;
      });
  const [tcb, qe, pck, root] = await Promise.all([
    load(urls.tcbInfo, (res) => {
      // v4 sends TCB-Info-Issuer-Chain, v3 and older PCCS SGX-TCB-Info-Issuer-Chain.
      const chain = issuerChain(res, 'TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain');
      const { text, signature, value } = signedJson(res, 'tcbInfo', parseTcbInfo, IDS[tee].tcbInfo);
      if (hex(value.fmspc).toUpperCase() !== fmspc)
        throw invalid(res, 'tcbInfo.fmspc', `tcbInfo.fmspc is not ${fmspc}`);
      return { tcb_info: text, tcb_info_signature: signature, tcb_info_issuer_chain: chain };
    }),
    load(urls.qeIdentity, (res) => {
      const chain = issuerChain(res, 'SGX-Enclave-Identity-Issuer-Chain');
      const { text, signature } = signedJson(res, 'enclaveIdentity', parseQeIdentity, IDS[tee].qe);
      return { qe_identity: text, qe_identity_signature: signature, qe_identity_issuer_chain: chain };
    }),
    load(urls.pckCrl, (res) => ({
      pck_crl: crl(res, 'pck_crl'),
      pck_crl_issuer_chain: issuerChain(res, 'SGX-PCK-CRL-Issuer-Chain'),
    })),
    load(urls.rootCaCrl, (res) => ({ root_ca_crl: crl(res, 'root_ca_crl') })),
  ]);
  return { ...tcb, ...qe, ...pck, ...root };
}
