import { randomBytes, X509Certificate } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import { hex } from '../lib/bytes.js';
import {
  TCB_STATUS,
  checkIdentityPinned,
  checkPolicy,
  parsePolicy,
  type Policy,
  type TcbStatus,
  type Verdict,
} from '../attest/index.js';
import { pemCertificates } from '../attest/lib/x509.js';
import { bindingReportData } from '../protocol/index.js';
import { defaultSimDir, loadPlatform, simulatedArk } from './sim.js';
import { evidenceVerifier } from './evidence-verifier.js';
import { call, type Endpoint } from './net.js';
import { cloisterHome, readJson } from './io.js';

/**
 * Attesting a coordinator from outside, as `cloister verify` does and `cloister run
 * --coordinator-policy` does before a workload accepts anything: a fresh nonce, its evidence
 * verified to the manufacturer's root (or the simulation root, only when asked), the report data
 * binding the root certificate the TLS server chains to, and a policy that pins *which* code the
 * coordinator is. Without a pinned identity only a simulation coordinator is accepted: otherwise
 * any enclave on genuine hardware could pose as the coordinator.
 */

export interface CoordinatorExpectation {
  policy: Policy;
  /** The simulation root to trust (DER), when simulated evidence is accepted. */
  simulationRoot?: Uint8Array | undefined;
  /** The simulated SEV-SNP ARK (DER), for a simulation coordinator on emulated SEV-SNP. */
  simulationArk?: Uint8Array | undefined;
  /** Where genuine evidence's collateral is fetched and cached (Intel's PCS and AMD's KDS by default). */
  online?: { pcsUrl?: string | undefined; kdsUrl?: string | undefined; cacheDir: string } | undefined;
}

export interface AttestedCoordinator {
  /** The coordinator's root certificate (DER), bound by its evidence. */
  root: Uint8Array;
  verdict: Verdict;
  manifestFingerprint: string | undefined;
}

/** The options a command takes to say what coordinator it expects. */
export interface ExpectationOptions {
  policy?: string | undefined;
  mrenclave?: string | undefined;
  mrsigner?: string | undefined;
  acceptTcb?: string[] | undefined;
  simulation?: boolean | undefined;
  simDir?: string | undefined;
}

/**
 * The expectation from command-line options: a policy file (the JSON of `cloister attest verify
 * --policy`), `--mrenclave`/`--mrsigner` added to its expected claims, `--accept-tcb` replacing
 * its statuses, `--simulation` allowing the local simulation root.
 *
 * @example `const expect = expectationFrom({ mrenclave: 'ab…', acceptTcb: [] })`
 */
export function expectationFrom(o: ExpectationOptions): CoordinatorExpectation {
  const base: Policy = o.policy === undefined ? {} : parsePolicy(readJson(o.policy));
  const accepted = o.acceptTcb?.length ? o.acceptTcb : undefined;
  for (const s of accepted ?? [])
    if (!Object.hasOwn(TCB_STATUS, s)) throw new CloisterError('USAGE', `--accept-tcb: unknown status "${s}"`);
  const policy: Policy = {
    ...base,
    ...(accepted ? { acceptedTcbStatuses: accepted as TcbStatus[] } : {}),
    expected: {
      ...base.expected,
      ...(o.mrenclave ? { mrenclave: o.mrenclave } : {}),
      ...(o.mrsigner ? { mrsigner: o.mrsigner } : {}),
    },
    allowSimulation: o.simulation === true,
  };
  const simDir = o.simDir ?? defaultSimDir();
  return {
    policy,
    simulationRoot: o.simulation ? loadPlatform(simDir).root.cert.der : undefined,
    simulationArk: o.simulation ? simulatedArk(simDir) : undefined,
  };
}

/**
 * Attests the coordinator whose client API (or, with `quotePath` `/mesh/v1/quote`, mesh API) is at `to`.
 *
 * @example
 * ```ts
 * const { root } = await attestCoordinator(endpoint, expectationFrom({ mrenclave }), Date.now() / 1000);
 * ```
 */
export async function attestCoordinator(
  to: Endpoint,
  expect: CoordinatorExpectation,
  now: number,
  quotePath = '/api/v1/quote',
): Promise<AttestedCoordinator> {
  const nonce = randomBytes(32);
  const res = await call(to, 'GET', `${quotePath}?nonce=${nonce.toString('hex')}`);
  const answer = res.json<{
    evidence: string;
    collateral: unknown;
    root: string;
    simulation: boolean;
    manifestFingerprint?: string;
  }>();
  if (answer.simulation && !expect.simulationRoot)
    throw new CloisterError(
      'COORDINATOR_UNTRUSTED',
      'the coordinator runs on the simulated platform: pass --simulation to accept that (never in production)',
    );
  const root = expect.simulationRoot;
  const verify = evidenceVerifier({
    simulation: root && { dcapRoot: root, snpArk: () => expect.simulationArk },
    online: expect.online ?? { cacheDir: cloisterHome('collateral') },
  });
  const verdict = await verify(new Uint8Array(Buffer.from(answer.evidence, 'base64')), {
    simulated: answer.simulation,
    collateral: answer.collateral,
    now,
  });
  const [caRoot] = pemCertificates(answer.root, 'root');
  if (!caRoot) throw new CloisterError('COORDINATOR_UNTRUSTED', 'no root certificate in the answer');
  if (verdict.claims['reportData'] !== hex(bindingReportData(caRoot, nonce)))
    throw new CloisterError('COORDINATOR_UNTRUSTED', 'the evidence does not bind the root certificate and this nonce');
  // Simulated evidence proves nothing about code identity anyway; genuine evidence must be pinned.
  if (!verdict.simulation) checkIdentityPinned(verdict, expect.policy, 'the coordinator');
  checkPolicy(verdict, expect.policy);
  // The TLS server we attested through must be the coordinator's serving identity under that root
  // (its leaf signed by the root itself, cli/net.ts): otherwise the quote was relayed.
  const rootCert = new X509Certificate(caRoot);
  const leaf = res.peerChain[0] && new X509Certificate(res.peerChain[0]);
  if (!leaf || !leaf.checkIssued(rootCert) || !leaf.verify(rootCert.publicKey))
    throw new CloisterError(
      'COORDINATOR_UNTRUSTED',
      "the TLS certificate of the coordinator is not the serving certificate of the attested root (a workload's, or another coordinator's)",
    );
  return { root: caRoot, verdict, manifestFingerprint: answer.manifestFingerprint };
}
