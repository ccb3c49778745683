import { createHash } from 'node:crypto';
import { CloisterError, type ErrorCode } from '../lib/errors.js';
import { hex } from '../lib/bytes.js';
import {
  checkPolicy,
  DcapVerifier,
  SnpVerifier,
  type Policy,
  type PreparedCollateral,
  type QuoteCollateralV3,
  type Verdict,
} from '../attest/index.js';
import { createCa } from '../pki/index.js';
import type { SealedStore } from '../store/index.js';
import {
  createSigningKey,
  decodeServiceState,
  encodeServiceState,
  jwks,
  rotateKeys,
  type ServiceState,
  type SigningKey,
} from './keys.js';
import { openEnclaveQuote, parseAttestRequest, snpEvidence, type AttestRequest, type DataItem } from './request.js';
import { EVIDENCE_CLAIMS, policyHash, signToken, tokenPayload, type EvidenceClaims } from './token.js';

/**
 * An attestation service compatible with Azure Attestation's data plane: evidence verified with
 * cloister's verifiers and collateral, bound to the caller's runtime and init-time data, judged
 * by a JSON policy, answered with an RS256 token in MAA's format. I/O is injected: the sealed
 * store, the clock and the collateral source.
 */

/** DCAP collateral prepared for the verifier, with the SHA-256 (hex) of each piece for `x-ms-sgx-collateral`. */
export interface CollateralSet {
  prepared: PreparedCollateral;
  hashes: Record<string, string>;
}

/** Finds the collateral of a quote (by its TEE, FMSPC and PCK CA) at a time. */
export type CollateralSource = (quote: Uint8Array, now: number) => Promise<CollateralSet>;

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * Prepares QuoteCollateralV3 for `verifier` and hashes its pieces as MAA's `x-ms-sgx-collateral`
 * names them (the issuing chains for `*certshash`, the root CA CRL for `*crlhash`).
 *
 * @example `const set = collateralSet(verifier, JSON.parse(readFileSync('collateral.json', 'utf8')))`
 */
export function collateralSet(verifier: DcapVerifier, raw: QuoteCollateralV3): CollateralSet {
  const crl = sha256(raw.root_ca_crl);
  return {
    prepared: verifier.prepare(raw),
    hashes: {
      qeidcertshash: sha256(raw.qe_identity_issuer_chain),
      qeidcrlhash: crl,
      qeidhash: sha256(raw.qe_identity),
      tcbinfocertshash: sha256(raw.tcb_info_issuer_chain),
      tcbinfocrlhash: crl,
      tcbinfohash: sha256(raw.tcb_info),
    },
  };
}

/**
 * A collateral source over fixed sets (files): the set whose TCB info is for the quote's TEE and
 * FMSPC and whose PCK CRL is of the quote's PCK CA; COLLATERAL_MISSING when there is none.
 *
 * @example `const source = fixedCollateral(verifier, [JSON.parse(text)])`
 */
export function fixedCollateral(verifier: DcapVerifier, raws: readonly QuoteCollateralV3[]): CollateralSource {
  const sets = raws.map((raw) => collateralSet(verifier, raw));
  return async (quote) => {
    const want = verifier.collateralRequest(quote);
    const found = sets.find(
      ({ prepared: c }) =>
        c.tcbInfo.id === want.tee.toUpperCase() &&
        hex(c.tcbInfo.fmspc).toUpperCase() === want.fmspc &&
        (c.pckCrlChain[0]?.subjectCn ?? '').toLowerCase().includes(want.ca),
    );
    if (!found)
      throw new CloisterError(
        'COLLATERAL_MISSING',
        `no collateral for a ${want.tee} quote of FMSPC ${want.fmspc} (${want.ca} CA)`,
        { field: 'collateral' },
      );
    return found;
  };
}

/** How each attestation endpoint reads its evidence and which verifier and claim set it uses. */
const ENDPOINTS = {
  SgxEnclave: { member: 'quote', claims: 'sgx', quote: (evidence: Uint8Array) => evidence },
  OpenEnclave: { member: 'report', claims: 'sgx', quote: openEnclaveQuote },
  SevSnpVm: { member: 'report', claims: 'snp', quote: undefined },
} as const satisfies Record<
  string,
  { member: 'quote' | 'report'; claims: EvidenceClaims; quote: ((evidence: Uint8Array) => Uint8Array) | undefined }
>;

/** The attestation endpoints, `/attest/<name>`. @example `const e: AttestEndpoint = 'OpenEnclave'` */
export type AttestEndpoint = keyof typeof ENDPOINTS;

/** Every {@link AttestEndpoint}. @example `ATTEST_ENDPOINTS.includes("SevSnpVm")` */
export const ATTEST_ENDPOINTS = Object.keys(ENDPOINTS) as AttestEndpoint[];

/** Options of {@link AttestationService.open}. @example `{ instance: 'https://127.0.0.1:8443', store, dcap: new DcapVerifier(), collateral, policy: {}, policyText: '{}', now: () => Date.now() / 1000 }` */
export interface AttestationServiceOptions {
  /** The instance URL clients use (`https://host:port`): the token's `iss`, and `<instance>/certs` its `jku`. */
  instance: string;
  store: SealedStore;
  /** The DCAP verifier (its trust root: Intel's, or the simulation root). */
  dcap: DcapVerifier;
  snp?: SnpVerifier;
  collateral: CollateralSource;
  policy: Policy;
  /** The policy's text, hashed into `x-ms-policy-hash`. */
  policyText: string;
  /** The clock, Unix seconds. */
  now: () => number;
  /** Token lifetime in seconds; default 8 hours, as MAA's. */
  tokenLifetime?: number;
  /** Hears of every verification: the TEE kind, its time in seconds, its verdict (none when the evidence was refused). */
  verified?: (tee: 'sgx' | 'snp', seconds: number, verdict: Verdict | undefined) => void;
}

/** An attestation's outcome: a token, or the evidence's refusal (a typed error, never a bare false). */
export type AttestOutcome = { token: string; verdict: Verdict } | { refused: CloisterError };

const EIGHT_HOURS = 8 * 3600;

/**
 * Errors that are the request's or the service's own, not a refusal of the evidence: they are
 * thrown, for the HTTP layer to answer (400 for the request, 502/503/500 for collateral the
 * service could not get).
 */
const NOT_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'REQUEST_INVALID',
  'COLLATERAL_FETCH_FAILED',
  'COLLATERAL_RESPONSE_INVALID',
  'COLLATERAL_CACHE_INVALID',
]);

/** SHA-256(data) must be the first 32 bytes of `field` (a hex claim); MAA's binding of runtime and init-time data. */
function checkBinding(
  item: DataItem | undefined,
  claims: Verdict['claims'],
  field: string,
  code: 'RUNTIME_DATA_MISMATCH' | 'INIT_TIME_DATA_MISMATCH',
): void {
  if (!item) return;
  const held = claims[field];
  const want = sha256(item.bytes);
  if (typeof held !== 'string' || held.slice(0, 64) !== want) {
    throw new CloisterError(
      code,
      `claims.${field}: its first 32 bytes are not SHA-256 of the ${code === 'RUNTIME_DATA_MISMATCH' ? 'runtime' : 'init-time'} data (${want})`,
      { field: `claims.${field}`, expected: want, actual: held },
    );
  }
}

/**
 * The service. Open it over its sealed store (created on first start: a TLS CA and the first
 * signing key), then attest.
 *
 * @example
 * ```ts
 * const service = await AttestationService.open({ instance, store, dcap: new DcapVerifier(), collateral, policy: {}, policyText: '{}', now: () => Date.now() / 1000 });
 * const outcome = await service.attest('SgxEnclave', JSON.parse(body));
 * ```
 */
export class AttestationService {
  private state: ServiceState;
  private readonly o: AttestationServiceOptions & { snp: SnpVerifier; tokenLifetime: number };
  private readonly hash: string;
  /** Rotations run one after another, each from the state the one before left. */
  private rotation: Promise<unknown> = Promise.resolve();

  private constructor(state: ServiceState, o: AttestationServiceOptions) {
    this.state = state;
    this.o = { snp: new SnpVerifier(), tokenLifetime: EIGHT_HOURS, ...o };
    this.hash = policyHash(o.policyText);
  }

  static async open(o: AttestationServiceOptions): Promise<AttestationService> {
    // RFC 7519 §4.1.1: iss is compared as a string; one spelling, the origin clients use.
    if (!/^https:\/\/[^/?#]+$/.test(o.instance))
      throw new CloisterError(
        'USAGE',
        `instance: "${o.instance}" is not an https origin (https://host[:port], no path)`,
        { field: 'instance', actual: o.instance },
      );
    const bytes = await o.store.read();
    if (bytes) return new AttestationService(decodeServiceState(bytes), o);
    const now = o.now();
    const state: ServiceState = {
      version: 1,
      tls: await createCa({ now, name: 'cloister attestation service' }),
      keys: [await createSigningKey(o.instance, now)],
    };
    await o.store.write(encodeServiceState(state));
    return new AttestationService(state, o);
  }

  /** The CA of the service's TLS certificate (clients trust its root). */
  get tls() {
    return this.state.tls;
  }

  get instance(): string {
    return this.o.instance;
  }

  /** The key that signs new tokens. */
  get signingKey(): SigningKey {
    return this.state.keys[this.state.keys.length - 1] as SigningKey;
  }

  /** `GET /certs`: every key whose tokens may still be unexpired. */
  jwks(): { keys: Record<string, unknown>[] } {
    return jwks(this.state.keys);
  }

  /** `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3, as MAA serves it). */
  openIdConfiguration(): Record<string, unknown> {
    return {
      issuer: this.o.instance,
      jwks_uri: `${this.o.instance}/certs`,
      response_types_supported: ['token', 'none'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: [
        ...[
          'iss',
          'iat',
          'nbf',
          'exp',
          'jti',
          'nonce',
          'x-ms-ver',
          'x-ms-attestation-type',
          'x-ms-policy-hash',
          'x-ms-sgx-ehd',
          'x-ms-sgx-collateral',
          'x-ms-runtime',
          'x-ms-inittime',
        ],
        ...Object.values(EVIDENCE_CLAIMS).flatMap((e) => Object.keys(e.claims)),
      ],
    };
  }

  /**
   * Rotates the signing key: a new key signs from now on; the old one stays in `/certs` until
   * the tokens it signed have expired. Durable before it resolves. Returns the new kid.
   */
  rotate(): Promise<string> {
    const run = this.rotation.then(() => this.rotateNow());
    this.rotation = run.catch(() => undefined);
    return run;
  }

  private async rotateNow(): Promise<string> {
    const now = this.o.now();
    const next = {
      ...this.state,
      keys: rotateKeys(this.state.keys, await createSigningKey(this.o.instance, now), now, this.o.tokenLifetime),
    };
    await this.o.store.write(encodeServiceState(next));
    this.state = next;
    return this.signingKey.kid;
  }

  /**
   * Attests a request body of `/attest/<endpoint>`. A malformed body throws REQUEST_INVALID;
   * evidence that does not verify, does not bind the data or breaks the policy is refused with
   * the rule's code; otherwise the answer is a signed token.
   */
  async attest(endpoint: AttestEndpoint, body: unknown): Promise<AttestOutcome> {
    const e = ENDPOINTS[endpoint];
    const request = parseAttestRequest(body, e.member);
    const now = this.o.now();
    try {
      const { verdict, collateral } = e.quote
        ? await this.verifyQuote(e.quote(request.evidence), now)
        : { verdict: this.verifySnp(request.evidence, now), collateral: undefined };
      this.judge(verdict, request, e.claims);
      const payload = tokenPayload(e.claims, verdict, {
        instance: this.o.instance,
        now,
        lifetime: this.o.tokenLifetime,
        policyHash: this.hash,
        nonce: request.nonce,
        runtimeData: request.runtimeData,
        initTimeData: request.initTimeData,
        collateral,
      });
      return { token: await signToken(payload, this.signingKey, `${this.o.instance}/certs`), verdict };
    } catch (error) {
      if (error instanceof CloisterError && !NOT_REFUSALS.has(error.code)) return { refused: error };
      throw error;
    }
  }

  private async verifyQuote(
    quote: Uint8Array,
    now: number,
  ): Promise<{ verdict: Verdict; collateral: Record<string, string> }> {
    const set = await this.o.collateral(quote, now);
    const verdict = this.timed('sgx', () => this.o.dcap.verify(quote, { collateral: set.prepared, now, tee: 'sgx' }));
    return { verdict, collateral: { ...set.hashes, quotehash: sha256(quote) } };
  }

  private verifySnp(evidence: Uint8Array, now: number): Verdict {
    const { report, certs } = snpEvidence(evidence);
    return this.timed('snp', () => this.o.snp.verify(report, certs, { now }));
  }

  /** Runs a verification, telling `verified` how long it took and what it concluded. */
  private timed(tee: 'sgx' | 'snp', verify: () => Verdict): Verdict {
    const start = performance.now();
    try {
      const verdict = verify();
      this.o.verified?.(tee, (performance.now() - start) / 1000, verdict);
      return verdict;
    } catch (error) {
      this.o.verified?.(tee, (performance.now() - start) / 1000, undefined);
      throw error;
    }
  }

  /** MAA's bindings (runtime data in the report data; init-time data in CONFIGID or HOST_DATA), then the policy. */
  private judge(v: Verdict, r: AttestRequest, kind: EvidenceClaims): void {
    checkBinding(r.runtimeData, v.claims, 'reportData', 'RUNTIME_DATA_MISMATCH');
    checkBinding(r.initTimeData, v.claims, kind === 'sgx' ? 'configId' : 'hostData', 'INIT_TIME_DATA_MISMATCH');
    checkPolicy(v, this.o.policy);
  }
}
