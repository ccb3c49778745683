import { CloisterError } from '../lib/errors.js';
import { DEFAULT_ACCEPTED_STATUSES, type TcbStatus } from './tcb-status.js';
import type { Verdict } from './verdict.js';

/**
 * What a relying party accepts. Verification says what evidence is; policy decides whether that
 * is good enough. Defaults are strict: only UpToDate, no advisories, no debug, no simulation.
 */
export interface Policy {
  /** TCB statuses accepted (default: UpToDate only). */
  acceptedTcbStatuses?: readonly TcbStatus[];
  /** Advisory IDs accepted; any other advisory in the verdict is refused (default: none). */
  acceptedAdvisories?: readonly string[];
  /** Accept debug enclaves and TDs (default: false). */
  allowDebug?: boolean;
  /** Accept evidence anchored at the simulated platform (default: false). */
  allowSimulation?: boolean;
  /** Claims that must equal these values (hex compared case-insensitively). */
  expected?: Readonly<Record<string, string | number | boolean>>;
  /** Numeric claims that must be at least these values (e.g. `{ isvSvn: 2 }`). */
  minimum?: Readonly<Record<string, number>>;
}

function refuse(field: string, message: string, expected?: unknown, actual?: unknown): never {
  throw new CloisterError('POLICY_VIOLATION', `${field}: ${message}`, { field, expected, actual });
}

/**
 * Checks a verdict against a policy; throws POLICY_VIOLATION naming the first rule it breaks.
 *
 * @example
 * ```ts
 * checkPolicy(verdict, { acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'], acceptedAdvisories: ['INTEL-SA-00615'], expected: { mrenclave } });
 * ```
 */
export function checkPolicy(verdict: Verdict, policy: Policy = {}): void {
  if (verdict.simulation && !policy.allowSimulation) refuse('simulation', 'evidence from the simulated platform is not accepted');
  const statuses = policy.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_STATUSES;
  if (!statuses.includes(verdict.tcbStatus)) refuse('tcbStatus', `${verdict.tcbStatus} is not among the accepted statuses (${statuses.join(', ')})`, statuses, verdict.tcbStatus);
  const accepted = new Set(policy.acceptedAdvisories ?? []);
  const open = verdict.advisoryIds.filter((a) => !accepted.has(a));
  if (open.length > 0) refuse('advisoryIds', `advisories not accepted: ${open.join(', ')}`, [...accepted], open);
  if (verdict.claims['debug'] === true && !policy.allowDebug) refuse('claims.debug', 'debug enclaves and TDs are not accepted');
  for (const [name, want] of Object.entries(policy.expected ?? {})) {
    const got = verdict.claims[name];
    const same = typeof want === 'string' && typeof got === 'string' ? want.toLowerCase() === got.toLowerCase() : want === got;
    if (!same) refuse(`claims.${name}`, `expected ${String(want)}, got ${got === undefined ? 'nothing' : String(got)}`, want, got);
  }
  for (const [name, min] of Object.entries(policy.minimum ?? {})) {
    const got = verdict.claims[name];
    if (typeof got !== 'number' || got < min) refuse(`claims.${name}`, `must be at least ${min}, got ${got === undefined ? 'nothing' : String(got)}`, min, got);
  }
}
