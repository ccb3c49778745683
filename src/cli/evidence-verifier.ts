import {
  DcapVerifier,
  SnpVerifier,
  customRoot,
  evidenceKind,
  splitSnpEvidence,
  type PreparedCollateral,
  type QuoteCollateralV3,
  type Verdict,
} from '../attest/index.js';
import { simCollateral, type SimPlatform } from '../attest/sim/index.js';
import { AMD_KDS_URL, INTEL_PCS_URL, getCollateral, getSnpCollateral } from '../collateral/index.js';
import { CloisterError } from '../lib/errors.js';
import { equal } from '../lib/bytes.js';

/**
 * Verifying the evidence of any platform cloister's providers produce (an SGX or TDX quote, an
 * SEV-SNP report with its certificate table), against either the manufacturers' pinned roots
 * with their collateral (Intel PCS/PCCS, AMD KDS when the host gave no certificates; cached on
 * disk) or the simulated platform's roots. Which anchors apply is the caller's decision (the
 * manifest's `TEE: sim`, a client's `--simulation`), never the evidence's.
 */

export interface EvidenceAnchors {
  /**
   * The simulated platform: its DCAP root (DER), its SEV-SNP ARK (DER, as the Milan root), and,
   * where the verifier can make it (the coordinator holds the platform), its DCAP collateral.
   */
  simulation?:
    | {
        dcapRoot: Uint8Array;
        /** Read when SEV-SNP evidence arrives (the simulated SNP platform is made by the first emulator that needs it). */
        snpArk?: (() => Uint8Array | undefined) | undefined;
        platform?: SimPlatform | undefined;
      }
    | undefined;
  /** Where genuine evidence's collateral comes from: a PCS or PCCS, AMD's KDS, and the disk cache. */
  online: { pcsUrl?: string | undefined; kdsUrl?: string | undefined; apiKey?: string | undefined; cacheDir: string };
}

export interface VerifyEvidenceOptions {
  /** Verify against the simulated platform's roots (else the manufacturers'). */
  simulated: boolean;
  now: number;
  /** DCAP collateral given with the evidence (QuoteCollateralV3 JSON), used instead of fetching. */
  collateral?: unknown;
}

/** Verifies evidence; throws a CloisterError naming the failed rule. */
export type VerifyEvidence = (evidence: Uint8Array, options: VerifyEvidenceOptions) => Promise<Verdict>;

const DAY = 86_400;

/**
 * A verifier of every evidence kind over `anchors`; prepared collateral and SNP chains are cached.
 *
 * @example
 * ```ts
 * const verify = evidenceVerifier({ online: { cacheDir } });
 * const verdict = await verify(evidence, { simulated: false, now: Date.now() / 1000 });
 * ```
 */
export function evidenceVerifier(anchors: EvidenceAnchors): VerifyEvidence {
  const intel = new DcapVerifier();
  const amd = new SnpVerifier();
  const sim = anchors.simulation;
  const simDcap = sim && new DcapVerifier(customRoot(sim.dcapRoot));
  let simSnp: { ark: Uint8Array; verifier: SnpVerifier } | undefined;
  const simSnpVerifier = () => {
    const ark = sim?.snpArk?.();
    if (!ark) return unsimulated('SEV-SNP');
    if (!simSnp || !equal(simSnp.ark, ark)) simSnp = { ark, verifier: new SnpVerifier({ roots: { Milan: ark } }) };
    return simSnp.verifier;
  };
  // The simulated collateral (valid 30 days) per TEE, renewed a day before it ends.
  const simPrepared = new Map<string, { value: Promise<PreparedCollateral>; until: number }>();
  const prepared = new Map<string, PreparedCollateral>();

  const unsimulated = (what: string): never => {
    throw new CloisterError(
      'ACTIVATION_REFUSED',
      `${what} evidence of the simulated platform cannot be verified here: this coordinator or client has no simulated ${what} platform (--simulation, and a --sim-dir that has one)`,
    );
  };

  const dcap = async (evidence: Uint8Array, tee: 'sgx' | 'tdx', o: VerifyEvidenceOptions) => {
    const verifier = o.simulated ? (simDcap ?? unsimulated(tee)) : intel;
    let collateral: PreparedCollateral;
    if (o.collateral !== undefined && o.collateral !== null) collateral = verifier.prepare(o.collateral);
    else if (o.simulated && sim?.platform) {
      const platform = sim.platform;
      let held = simPrepared.get(tee);
      if (!held || o.now > held.until) {
        held = {
          value: simCollateral(platform, { now: o.now, tee }).then((raw) => verifier.prepare(raw)),
          until: o.now + 29 * DAY,
        };
        simPrepared.set(tee, held);
      }
      collateral = await held.value;
    } else if (o.simulated) {
      throw new CloisterError('COLLATERAL_MISSING', 'simulated evidence came without its collateral');
    } else {
      const request = verifier.collateralRequest(evidence);
      const raw: QuoteCollateralV3 = await getCollateral({
        ...request,
        now: o.now,
        cacheDir: anchors.online.cacheDir,
        baseUrl: anchors.online.pcsUrl ?? INTEL_PCS_URL,
        ...(anchors.online.apiKey ? { apiKey: anchors.online.apiKey } : {}),
      });
      const key = JSON.stringify(raw);
      collateral = prepared.get(key) ?? verifier.prepare(raw);
      prepared.clear();
      prepared.set(key, collateral);
    }
    return verifier.verify(evidence, { collateral, now: o.now, tee });
  };

  const snp = async (evidence: Uint8Array, o: VerifyEvidenceOptions) => {
    const verifier = o.simulated ? simSnpVerifier() : amd;
    const { report, certs } = splitSnpEvidence(evidence);
    // GHCB spec §4.1.8.1: the host's certificate table stands in for a KDS fetch.
    if (certs.vcek === undefined && certs.vlek === undefined && !o.simulated) {
      const fetched = await getSnpCollateral({
        report,
        now: o.now,
        cacheDir: anchors.online.cacheDir,
        baseUrl: anchors.online.kdsUrl ?? AMD_KDS_URL,
      });
      return verifier.verify(report, fetched.certs, { now: o.now, crl: fetched.crl });
    }
    return verifier.verify(report, certs, { now: o.now });
  };

  return async (evidence, o) => {
    const kind = evidenceKind(evidence);
    return kind === 'snp' ? snp(evidence, o) : dcap(evidence, kind, o);
  };
}
