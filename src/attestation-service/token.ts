import { createHash, randomBytes, sign } from 'node:crypto';
import type { ClaimValue, Verdict } from '../attest/index.js';
import { MAA_EXTENSION_CLAIMS } from '../attest/index.js';
import type { DataItem } from './request.js';
import type { SigningKey } from './keys.js';

/**
 * The attestation token: an RS256 JWT (RFC 7519, RFC 7515 §7.1 compact form) with Azure
 * Attestation's claim names (https://learn.microsoft.com/azure/attestation/claim-sets and
 * .../attestation-token-examples). Pure: the verdict, the key and the time are passed in.
 */

type Claim = ClaimValue | Record<string, unknown> | undefined;
type FromVerdict = (v: Verdict) => Claim;

const claim =
  (name: string): FromVerdict =>
  (v) =>
    v.claims[name];
const tcb =
  (component: string): FromVerdict =>
  (v) => {
    const t = v.claims['reportedTcb'];
    return typeof t === 'object' && t !== null && !Array.isArray(t)
      ? (t as Record<string, ClaimValue>)[component]
      : undefined;
  };

/**
 * Per attestation type, MAA's `x-ms-attestation-type` value and the evidence claims, by token
 * claim name. SGX: "Claim sets", SGX outgoing claims; SEV-SNP: the `x-ms-sevsnpvm-*` claims of
 * `/attest/SevSnpVm` (2022-08-01).
 *
 * @example `EVIDENCE_CLAIMS.sgx.claims['x-ms-sgx-mrenclave']`
 */
export const EVIDENCE_CLAIMS = {
  sgx: {
    type: 'sgx',
    claims: {
      'x-ms-sgx-is-debuggable': claim('debug'),
      'x-ms-sgx-mrenclave': claim('mrenclave'),
      'x-ms-sgx-mrsigner': claim('mrsigner'),
      'x-ms-sgx-product-id': claim('isvProdId'),
      'x-ms-sgx-svn': claim('isvSvn'),
      'x-ms-sgx-config-id': claim('configId'),
      'x-ms-sgx-report-data': claim('reportData'),
    },
  },
  snp: {
    type: 'sevsnpvm',
    claims: {
      'x-ms-sevsnpvm-is-debuggable': claim('debug'),
      'x-ms-sevsnpvm-launchmeasurement': claim('measurement'),
      'x-ms-sevsnpvm-hostdata': claim('hostData'),
      'x-ms-sevsnpvm-reportdata': claim('reportData'),
      'x-ms-sevsnpvm-chipid': claim('chipId'),
      'x-ms-sevsnpvm-familyId': claim('familyId'),
      'x-ms-sevsnpvm-imageId': claim('imageId'),
      'x-ms-sevsnpvm-idkeydigest': claim('idKeyDigest'),
      'x-ms-sevsnpvm-authorkeydigest': claim('authorKeyDigest'),
      'x-ms-sevsnpvm-guestsvn': claim('guestSvn'),
      'x-ms-sevsnpvm-vmpl': claim('vmpl'),
      'x-ms-sevsnpvm-migration-allowed': claim('migrateMa'),
      'x-ms-sevsnpvm-smt-allowed': claim('smt'),
      'x-ms-sevsnpvm-bootloader-svn': tcb('bootloader'),
      'x-ms-sevsnpvm-tee-svn': tcb('tee'),
      'x-ms-sevsnpvm-snpfw-svn': tcb('snp'),
      'x-ms-sevsnpvm-microcode-svn': tcb('microcode'),
    },
  },
} as const satisfies Record<string, { type: string; claims: Record<string, FromVerdict> }>;

/** The kinds of {@link EVIDENCE_CLAIMS}. @example `const k: EvidenceClaims = 'sgx'` */
export type EvidenceClaims = keyof typeof EVIDENCE_CLAIMS;

/**
 * Deprecated names MAA still issues beside the recommended ones ("Claim sets", deprecated
 * claims; the issuance rules of MAA's default SGX policy), and the claim each repeats.
 *
 * @example `DEPRECATED_ALIASES['sgx-mrenclave']` → `'x-ms-sgx-mrenclave'`
 */
export const DEPRECATED_ALIASES = {
  'is-debuggable': 'x-ms-sgx-is-debuggable',
  'sgx-mrenclave': 'x-ms-sgx-mrenclave',
  'sgx-mrsigner': 'x-ms-sgx-mrsigner',
  'product-id': 'x-ms-sgx-product-id',
  svn: 'x-ms-sgx-svn',
  tee: 'x-ms-attestation-type',
  'maa-ehd': 'x-ms-sgx-ehd',
  'aas-ehd': 'x-ms-sgx-ehd',
  'maa-attestationcollateral': 'x-ms-sgx-collateral',
  policy_hash: 'x-ms-policy-hash',
  ver: 'x-ms-ver',
} as const;

/** What a token says besides the verdict. @example `{ instance, now, lifetime: 28800, policyHash, nonce: undefined, runtimeData: undefined, initTimeData: undefined, collateral: undefined }` */
export interface TokenInput {
  /** The instance URL: `iss`, and `jku` = `<instance>/certs`. */
  instance: string;
  now: number;
  /** Seconds from `iat` to `exp`; MAA issues 8-hour tokens. */
  lifetime: number;
  /** `x-ms-policy-hash`, already base64url. */
  policyHash: string;
  nonce: string | undefined;
  runtimeData: DataItem | undefined;
  initTimeData: DataItem | undefined;
  /** `x-ms-sgx-collateral`: SHA-256 hex of the quote and of each piece of collateral. */
  collateral: Record<string, string> | undefined;
}

/**
 * The token payload for a verified, accepted verdict. Binary runtime data is repeated as the
 * enclave held data (`x-ms-sgx-ehd`, base64url) for SGX; JSON runtime / init-time data as the
 * `x-ms-runtime` / `x-ms-inittime` objects.
 *
 * @example `const payload = tokenPayload('sgx', verdict, { instance, now, lifetime: 28800, policyHash, ... })`
 */
export function tokenPayload(kind: EvidenceClaims, v: Verdict, t: TokenInput): Record<string, unknown> {
  const now = Math.floor(t.now);
  const p: Record<string, unknown> = {
    iss: t.instance,
    iat: now,
    nbf: now,
    exp: now + t.lifetime,
    jti: randomBytes(32).toString('hex'),
    'x-ms-ver': '1.0',
    'x-ms-attestation-type': EVIDENCE_CLAIMS[kind].type,
    'x-ms-policy-hash': t.policyHash,
    [MAA_EXTENSION_CLAIMS.tcbStatus]: v.tcbStatus,
    [MAA_EXTENSION_CLAIMS.advisoryIds]: v.advisoryIds,
    'x-ms-cloister-simulation': v.simulation,
  };
  if (t.nonce !== undefined) p['nonce'] = t.nonce;
  for (const [name, read] of Object.entries(EVIDENCE_CLAIMS[kind].claims)) {
    const value = read(v);
    if (value !== undefined) p[name] = value;
  }
  if (t.collateral) p['x-ms-sgx-collateral'] = t.collateral;
  if (t.runtimeData?.json) p['x-ms-runtime'] = t.runtimeData.json;
  else if (t.runtimeData && kind === 'sgx') p['x-ms-sgx-ehd'] = Buffer.from(t.runtimeData.bytes).toString('base64url');
  if (t.initTimeData?.json) p['x-ms-inittime'] = t.initTimeData.json;
  for (const [alias, source] of Object.entries(DEPRECATED_ALIASES)) {
    if (p[source] !== undefined && (kind === 'sgx' || source === 'x-ms-ver' || source === 'x-ms-policy-hash'))
      p[alias] = p[source];
  }
  return p;
}

/**
 * `x-ms-policy-hash`: BASE64URL(SHA256(UTF8(BASE64URL(UTF8(policy text))))), as MAA defines it.
 *
 * @example `policyHash('{"allowDebug":false}')`
 */
export function policyHash(text: string): string {
  return createHash('sha256').update(Buffer.from(text, 'utf8').toString('base64url')).digest('base64url');
}

const part = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/**
 * Signs a payload as a compact JWS (RFC 7515 §7.1) with RS256 (RSASSA-PKCS1-v1_5 with SHA-256,
 * RFC 7518 §3.3); the header names the key (`kid`) and where its set is published (`jku`). The
 * RSA signature, most of an attestation's cost, runs on libuv's thread pool (node:crypto's
 * callback form), so a server keeps parsing and verifying on its main thread meanwhile.
 *
 * @example `const token = await signToken(payload, key, 'https://attest.example/certs')`
 */
export function signToken(
  payload: Record<string, unknown>,
  key: Pick<SigningKey, 'kid' | 'privateKey'>,
  jku: string,
): Promise<string> {
  const input = `${part({ alg: 'RS256', jku, kid: key.kid, typ: 'JWT' })}.${part(payload)}`;
  return new Promise((resolve, reject) => {
    sign('sha256', Buffer.from(input, 'ascii'), key.privateKey, (error, signature) =>
      error ? reject(error) : resolve(`${input}.${signature.toString('base64url')}`),
    );
  });
}
