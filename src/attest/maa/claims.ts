import { CloisterError } from '../../lib/errors.js';
import { hex } from '../../lib/bytes.js';
import { TCB_STATUS, type TcbStatus } from '../tcb-status.js';
import type { Claims } from '../verdict.js';
import { base64url } from './jws.js';

/**
 * Azure Attestation's token claims in cloister's names. MAA's claim sets are documented at
 * https://learn.microsoft.com/azure/attestation/claim-sets ("Claim sets": common and SGX outgoing
 * claims, with tables of deprecated names that "are fully supported and will continue to be
 * included"); the un-prefixed names (`is-debuggable`, `sgx-mrsigner`, ...) are what MAA's default
 * SGX policy issues (https://learn.microsoft.com/azure/attestation/policy-examples).
 */

type ClaimValue = Claims[string];

/** How a claim's JSON value becomes a cloister claim value; `undefined` when it has the wrong type. */
const DECODERS = {
  /** A 32-byte measurement, "hex encoded value of the … field of the quote". */
  hex32: (v: unknown) => (typeof v === 'string' && /^[0-9a-fA-F]{64}$/.test(v) ? v.toLowerCase() : undefined),
  /** A 48-byte SEV-SNP measurement (SEV-SNP ABI spec, ATTESTATION_REPORT MEASUREMENT), hex. */
  hex48: (v: unknown) => (typeof v === 'string' && /^[0-9a-fA-F]{96}$/.test(v) ? v.toLowerCase() : undefined),
  /** BASE64URL bytes (enclave held data, policy hash) as lowercase hex. */
  base64url: (v: unknown) => {
    const bytes = typeof v === 'string' ? base64url(v) : undefined;
    return bytes && hex(bytes);
  },
  /** SGX ISVPRODID and ISVSVN are 16-bit (SGX SDM 38.7.1). */
  uint16: (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff ? v : undefined),
  boolean: (v: unknown) => (typeof v === 'boolean' ? v : undefined),
  string: (v: unknown) => (typeof v === 'string' ? v : undefined),
  /** A JSON claim (`x-ms-runtime`, `x-ms-inittime`: the caller's JSON data), kept as JSON text. */
  json: (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : undefined),
} satisfies Record<string, (v: unknown) => ClaimValue | undefined>;

/**
 * Cloister's claim names and the MAA claims they come from, recommended name first, then the
 * deprecated aliases. All aliases present in a token must agree.
 *
 * @example
 * ```ts
 * MAA_CLAIMS.mrenclave.from; // ['x-ms-sgx-mrenclave', 'sgx-mrenclave', '$sgx-mrenclave']
 * ```
 */
export const MAA_CLAIMS = {
  mrenclave: { from: ['x-ms-sgx-mrenclave', 'sgx-mrenclave', '$sgx-mrenclave'], decode: 'hex32' },
  mrsigner: { from: ['x-ms-sgx-mrsigner', 'sgx-mrsigner', '$sgx-mrsigner'], decode: 'hex32' },
  isvProdId: { from: ['x-ms-sgx-product-id', 'product-id', '$product-id'], decode: 'uint16' },
  isvSvn: { from: ['x-ms-sgx-svn', 'svn', '$svn'], decode: 'uint16' },
  debug: {
    from: ['x-ms-sgx-is-debuggable', 'is-debuggable', '$is-debuggable', 'x-ms-sevsnpvm-is-debuggable'],
    decode: 'boolean',
  },
  // SevSnpVm tokens: the launch measurement and HOST_DATA, in the names of cloister's SNP claims.
  measurement: { from: ['x-ms-sevsnpvm-launchmeasurement'], decode: 'hex48' },
  hostData: { from: ['x-ms-sevsnpvm-hostdata'], decode: 'hex32' },
  // Enclave held data, "formatted as BASE64URL(enclave held data)"; the report data it was bound to.
  reportData: { from: ['x-ms-sgx-ehd', 'maa-ehd', 'aas-ehd'], decode: 'base64url' },
  attestationType: { from: ['x-ms-attestation-type', 'tee', '$tee'], decode: 'string' },
  // BASE64URL(SHA256(UTF8(BASE64URL(UTF8(policy text))))), as hex like every byte string of cloister.
  policyHash: { from: ['x-ms-policy-hash', 'maa-policyHash', 'policy_hash'], decode: 'base64url' },
  ver: { from: ['x-ms-ver', 'ver'], decode: 'string' },
  issuer: { from: ['iss'], decode: 'string' },
  nonce: { from: ['nonce'], decode: 'string' },
  runtimeData: { from: ['x-ms-runtime'], decode: 'json' },
  initTimeData: { from: ['x-ms-inittime'], decode: 'json' },
} as const satisfies Record<string, { from: readonly string[]; decode: keyof typeof DECODERS }>;

/**
 * Extension claims for what MAA's own claims do not express, issued by cloister's
 * MAA-compatible service: the DCAP TCB status and the advisories of the platform.
 *
 * @example `payload[MAA_EXTENSION_CLAIMS.tcbStatus]`
 */
export const MAA_EXTENSION_CLAIMS = { tcbStatus: 'x-ms-sgx-tcb-status', advisoryIds: 'x-ms-sgx-advisory-ids' } as const;

function malformed(name: string, why: string, actual?: unknown): CloisterError {
  return new CloisterError('TOKEN_MALFORMED', `payload.${name}: ${why}`, { field: `payload.${name}`, actual });
}

/**
 * Maps a verified MAA payload to cloister's claims, TCB status and advisory IDs. Claims absent
 * from the token are absent from the result; a present claim of the wrong type, or two aliases
 * that disagree, is TOKEN_MALFORMED.
 *
 * @example
 * ```ts
 * const { claims, tcbStatus } = maaClaims({ 'x-ms-sgx-mrenclave': 'b779…', 'x-ms-sgx-svn': 1 });
 * claims.isvSvn; // 1
 * ```
 */
export function maaClaims(payload: Readonly<Record<string, unknown>>): {
  claims: Claims;
  tcbStatus: TcbStatus;
  advisoryIds: string[];
} {
  const claims: Claims = {};
  for (const [name, { from, decode }] of Object.entries(MAA_CLAIMS)) {
    for (const source of from) {
      if (!Object.hasOwn(payload, source)) continue;
      const value = DECODERS[decode](payload[source]);
      if (value === undefined) throw malformed(source, `not a valid ${decode} value (for ${name})`, payload[source]);
      const earlier = claims[name];
      if (earlier !== undefined && earlier !== value)
        throw malformed(source, `disagrees with another of ${from.join(', ')} (all give ${name})`, value);
      claims[name] = value;
    }
  }
  const status = payload[MAA_EXTENSION_CLAIMS.tcbStatus];
  if (status !== undefined && (typeof status !== 'string' || !Object.hasOwn(TCB_STATUS, status)))
    throw malformed(MAA_EXTENSION_CLAIMS.tcbStatus, 'not a TCB status', status);
  const advisories = payload[MAA_EXTENSION_CLAIMS.advisoryIds];
  if (advisories !== undefined && (!Array.isArray(advisories) || !advisories.every((a) => typeof a === 'string')))
    throw malformed(MAA_EXTENSION_CLAIMS.advisoryIds, 'not an array of strings', advisories);
  return {
    claims,
    // Without cloister's extension claim: MAA issues a token only for evidence its attestation
    // policy accepted, TCB included (https://learn.microsoft.com/azure/attestation/basic-concepts,
    // "Attestation policy"), so the platform's status is as good as the issuer let through.
    tcbStatus: (status as TcbStatus | undefined) ?? 'UpToDate',
    advisoryIds: (advisories as string[] | undefined) ?? [],
  };
}
