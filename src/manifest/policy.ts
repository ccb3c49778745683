import type { Policy } from '../attest/policy.js';
import { DEFAULT_ACCEPTED_STATUSES, TCB_STATUS, type TcbStatus } from '../attest/tcb-status.js';
import { CloisterError } from '../lib/errors.js';
import { PACKAGE_TEES, REFERENCE_VALUES, type ReferenceName } from './tee.js';
import type { Manifest, Package } from './types.js';

/**
 * MarbleRun (ego's tcb.CheckStatus): UpToDate is always accepted, and a listed status no
 * platform reports is accepted by the manifest check (with a warning) but matches nothing.
 */
function tcbStatuses(list: readonly string[] | undefined): TcbStatus[] {
  if (list === undefined || list.length === 0) return [...DEFAULT_ACCEPTED_STATUSES];
  const known = list.filter((s): s is TcbStatus => Object.hasOwn(TCB_STATUS, s));
  return [...new Set<TcbStatus>(['UpToDate', ...known])];
}

/**
 * The attestation policy a package stands for: its reference values as expected claims
 * (UniqueID → mrenclave, SignerID → mrsigner, ProductID → isvProdId, MRTD → mrtd, RTMRs[i] →
 * rtmr<i>, Measurement → measurement, HostData → hostData; hex lowercased), SecurityVersion as
 * the minimum isvSvn, Debug as allowDebug, the accepted TCB statuses (default UpToDate only) and
 * advisories (default none), and allowSimulation for TEE `sim`.
 *
 * @example
 * ```ts
 * checkPolicy(verdict, packagePolicy(manifest.Packages['backend']!));
 * ```
 */
export function packagePolicy(pkg: Package): Policy {
  // A package built by code rather than parsed may name a TEE the table lacks.
  if (!Object.hasOwn(PACKAGE_TEES, pkg.TEE))
    throw new CloisterError('MANIFEST_INVALID', `TEE: unknown TEE "${String(pkg.TEE)}"`, { path: 'TEE' });
  const expected: Record<string, string | number> = {};
  const minimum: Record<string, number> = {};
  for (const name of Object.keys(REFERENCE_VALUES) as ReferenceName[]) {
    const rule = REFERENCE_VALUES[name];
    const value = pkg[name];
    if (value === undefined) continue;
    const claims: [string, string | number][] = Array.isArray(value)
      ? value.map((v, i) => [`${rule.claim}${i}`, v])
      : [[rule.claim, value]];
    for (const [claim, v] of claims) {
      if (rule.compare === 'minimum' && typeof v === 'number') minimum[claim] = v;
      else expected[claim] = typeof v === 'string' ? v.toLowerCase() : v;
    }
  }
  return {
    acceptedTcbStatuses: tcbStatuses(pkg.AcceptedTCBStatuses),
    acceptedAdvisories: [...(pkg.AcceptedAdvisories ?? [])],
    allowDebug: pkg.Debug,
    allowSimulation: PACKAGE_TEES[pkg.TEE].simulation,
    expected,
    minimum,
  };
}

/**
 * What `manifest check --simulation` and `manifest set` to a simulation coordinator warn of: packages
 * whose TEE is not `sim`, which no program on the simulated platform can activate.
 *
 * @example
 * ```ts
 * simulationWarnings(manifest); // ['Packages.app.TEE is "sgx": ...']
 * ```
 */
export function simulationWarnings(m: Manifest): string[] {
  return Object.entries(m.Packages)
    .filter(([, pkg]) => pkg.TEE !== 'sim')
    .map(
      ([name, pkg]) =>
        `Packages.${name}.TEE is "${pkg.TEE}": programs on the simulated platform cannot activate under it; set "TEE": "sim" to run them in simulation`,
    );
}
