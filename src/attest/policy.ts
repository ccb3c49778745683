import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { DEFAULT_ACCEPTED_STATUSES, TCB_STATUS, type TcbStatus } from './tcb-status.js';
import { TCB_COMPONENTS, type TcbComponent } from './snp/product.js';
import { claimText, TEE_KINDS, type Verdict } from './verdict.js';

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
  /** SEV-SNP: the lowest security patch level accepted per TCB component; REPORTED_TCB, COMMITTED_TCB and CURRENT_TCB must each reach it. */
  minimumTcb?: Readonly<Partial<Record<TcbComponent, number>>>;
  /** SEV-SNP: the CHIP_IDs accepted (hex, any case); default any chip. */
  allowedChipIds?: readonly string[];
  /** SEV-SNP: the highest VMPL accepted (0 is the most privileged); default any. */
  maxVmpl?: number;
  /** SEV-SNP: accept guests whose policy allows a migration agent (MIGRATE_MA); default false. */
  allowMigrationAgent?: boolean;
}

/** The SEV-SNP TCB claims {@link Policy.minimumTcb} applies to (the launch TCB may be older). */
const MINIMUM_TCB_CLAIMS = ['reportedTcb', 'committedTcb', 'currentTcb'] as const;

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
  if (verdict.simulation && !policy.allowSimulation)
    refuse('simulation', 'evidence from the simulated platform is not accepted');
  const statuses = policy.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_STATUSES;
  if (!statuses.includes(verdict.tcbStatus))
    refuse(
      'tcbStatus',
      `${verdict.tcbStatus} is not among the accepted statuses (${statuses.join(', ')})`,
      statuses,
      verdict.tcbStatus,
    );
  const accepted = new Set(policy.acceptedAdvisories ?? []);
  const open = verdict.advisoryIds.filter((a) => !accepted.has(a));
  if (open.length > 0) refuse('advisoryIds', `advisories not accepted: ${open.join(', ')}`, [...accepted], open);
  if (verdict.claims['debug'] === true && !policy.allowDebug)
    refuse('claims.debug', 'debug enclaves and TDs are not accepted');
  if (verdict.claims['migrateMa'] === true && !policy.allowMigrationAgent)
    refuse('claims.migrateMa', 'guests that allow a migration agent are not accepted');
  const vmpl = verdict.claims['vmpl'];
  if (policy.maxVmpl !== undefined && (typeof vmpl !== 'number' || vmpl > policy.maxVmpl))
    refuse('claims.vmpl', `must be at most ${policy.maxVmpl}, got ${claimText(vmpl)}`, policy.maxVmpl, vmpl);
  const chipId = verdict.claims['chipId'];
  if (
    policy.allowedChipIds &&
    (typeof chipId !== 'string' || !policy.allowedChipIds.some((id) => id.toLowerCase() === chipId.toLowerCase()))
  ) {
    refuse('claims.chipId', `${claimText(chipId)} is not among the allowed chip ids`, policy.allowedChipIds, chipId);
  }
  for (const claim of MINIMUM_TCB_CLAIMS) {
    const tcb = verdict.claims[claim];
    for (const [component, min] of Object.entries(policy.minimumTcb ?? {})) {
      const got =
        typeof tcb === 'object' && tcb !== null && !Array.isArray(tcb)
          ? (tcb as Readonly<Record<string, unknown>>)[component]
          : undefined;
      if (typeof got !== 'number' || got < min)
        refuse(
          `claims.${claim}.${component}`,
          `must be at least ${min}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`,
          min,
          got,
        );
    }
  }
  for (const [name, want] of Object.entries(policy.expected ?? {})) {
    const got = verdict.claims[name];
    const same =
      typeof want === 'string' && typeof got === 'string' ? want.toLowerCase() === got.toLowerCase() : want === got;
    if (!same) refuse(`claims.${name}`, `expected ${JSON.stringify(want)}, got ${claimText(got)}`, want, got);
  }
  for (const [name, min] of Object.entries(policy.minimum ?? {})) {
    const got = verdict.claims[name];
    if (typeof got !== 'number' || got < min)
      refuse(`claims.${name}`, `must be at least ${min}, got ${claimText(got)}`, min, got);
  }
}

/**
 * Checks that `policy` pins *which* code produced the evidence: at least one of the TEE's identity
 * claims (`TEE_KINDS[tee].identity`: MRENCLAVE or MRSIGNER, MRTD, the SNP measurement...) among its
 * expected values. Genuine evidence without that proves only that *some* enclave or VM of the
 * platform produced it. Throws IDENTITY_REQUIRED naming what the evidence measured, so the user
 * can pin it.
 *
 * @example `checkIdentityPinned(verdict, { expected: { mrenclave } }, 'the coordinator')`
 */
export function checkIdentityPinned(verdict: Verdict, policy: Policy, who: string): void {
  const names = TEE_KINDS[verdict.tee].identity;
  if (names.some((name) => policy.expected?.[name] !== undefined)) return;
  const measured = names.filter((name) => verdict.claims[name] !== undefined);
  throw new CloisterError(
    'IDENTITY_REQUIRED',
    `the evidence of ${who} is genuine, but no expected identity was given, so any ${verdict.tee} guest could pose as it; ` +
      `it measured ${measured.map((name) => `${name} ${claimText(verdict.claims[name])}`).join(', ')}: ` +
      `if that is what you deploy, pin it (${names.map((name) => `--${name}`).join(', ')} or a policy with "expected")`,
    { field: 'expected', actual: Object.fromEntries(measured.map((name) => [name, verdict.claims[name]])) },
  );
}

/**
 * Validates a policy given as JSON (`cloister attest verify --policy FILE`); errors name the JSON path.
 *
 * @example
 * ```ts
 * const policy = parsePolicy({ acceptedTcbStatuses: ['UpToDate'], expected: { mrenclave: 'ab…' } });
 * ```
 */
export function parsePolicy(input: unknown): Policy {
  const j = new JsonReader('POLICY_INVALID', 'policy');
  const o = j.object(input);
  const known = [
    'acceptedTcbStatuses',
    'acceptedAdvisories',
    'allowDebug',
    'allowSimulation',
    'expected',
    'minimum',
    'minimumTcb',
    'allowedChipIds',
    'maxVmpl',
    'allowMigrationAgent',
  ];
  // Manifests spell their fields in PascalCase (AcceptedTCBStatuses); a policy's are camelCase.
  const fold = (key: string) => key.toLowerCase().replace(/_/g, '');
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue;
    const meant = known.find((k) => fold(k) === fold(key));
    throw j.fail(
      `policy.${key}`,
      meant !== undefined
        ? `unknown field: policy files spell it "${meant}" (camelCase, unlike a manifest's PascalCase)`
        : `unknown field (known: ${known.join(', ')})`,
    );
  }
  const strings = (key: string) =>
    j.array(o, key).map((v, i) => {
      if (typeof v !== 'string') throw j.fail(`policy.${key}[${i}]`, 'must be a string');
      return v;
    });
  const flag = (key: string) => {
    if (typeof o[key] !== 'boolean') throw j.fail(`policy.${key}`, 'must be true or false');
    return o[key];
  };
  const policy: Policy = {};
  if (j.has(o, 'acceptedTcbStatuses')) {
    policy.acceptedTcbStatuses = strings('acceptedTcbStatuses').map((s, i) => {
      if (!Object.hasOwn(TCB_STATUS, s)) throw j.fail(`policy.acceptedTcbStatuses[${i}]`, `unknown TCB status "${s}"`);
      return s as TcbStatus;
    });
  }
  if (j.has(o, 'acceptedAdvisories')) policy.acceptedAdvisories = strings('acceptedAdvisories');
  if (j.has(o, 'allowDebug')) policy.allowDebug = flag('allowDebug');
  if (j.has(o, 'allowSimulation')) policy.allowSimulation = flag('allowSimulation');
  if (j.has(o, 'expected')) {
    const e = j.object(o['expected'], 'policy.expected');
    for (const [k, v] of Object.entries(e))
      if (!['string', 'number', 'boolean'].includes(typeof v))
        throw j.fail(`policy.expected.${k}`, 'must be a string, number or boolean');
    policy.expected = e as Record<string, string | number | boolean>;
  }
  if (j.has(o, 'minimum')) {
    const m = j.object(o['minimum'], 'policy.minimum');
    for (const k of Object.keys(m)) j.int(m, k, 'policy.minimum');
    policy.minimum = m as Record<string, number>;
  }
  if (j.has(o, 'minimumTcb')) {
    const m = j.object(o['minimumTcb'], 'policy.minimumTcb');
    for (const k of Object.keys(m)) {
      if (!Object.hasOwn(TCB_COMPONENTS, k))
        throw j.fail(
          `policy.minimumTcb.${k}`,
          `unknown TCB component (known: ${Object.keys(TCB_COMPONENTS).join(', ')})`,
        );
      j.int(m, k, 'policy.minimumTcb', 255);
    }
    policy.minimumTcb = m;
  }
  if (j.has(o, 'allowedChipIds')) {
    policy.allowedChipIds = strings('allowedChipIds').map((id, i) => {
      if (!/^(?:[0-9a-fA-F]{2})+$/.test(id)) throw j.fail(`policy.allowedChipIds[${i}]`, 'must be hex');
      return id;
    });
  }
  if (j.has(o, 'maxVmpl')) policy.maxVmpl = j.int(o, 'maxVmpl', undefined, 3);
  if (j.has(o, 'allowMigrationAgent')) policy.allowMigrationAgent = flag('allowMigrationAgent');
  return policy;
}
