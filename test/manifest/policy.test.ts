import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPolicy, type Verdict } from '../../src/attest/index.js';
import { CloisterError } from '../../src/lib/errors.js';
import { packagePolicy, type Package } from '../../src/manifest/index.js';
import { marbleRunExample, parse, throwsAt } from './helpers.js';

/** A package's policy, and how it judges verdicts (attest's checkPolicy). */

const UNIQUE = 'AB'.repeat(32);

function verdict(claims: Verdict['claims'], extra: Partial<Verdict> = {}): Verdict {
  return {
    tee: 'sgx',
    tcbStatus: 'UpToDate',
    advisoryIds: [],
    claims: { debug: false, ...claims },
    collateralExpiry: 0,
    simulation: false,
    tcb: {
      platformStatus: 'UpToDate',
      qeStatus: 'UpToDate',
      tdxModuleStatus: undefined,
      tcbDate: '',
      evaluationDataNumber: 0,
    },
    trailingBytes: 0,
    ...extra,
  };
}

test('an SGX package: UniqueID is the expected mrenclave (lowercase); strict defaults', () => {
  assert.deepEqual(packagePolicy({ UniqueID: UNIQUE, Debug: false, TEE: 'sgx' }), {
    acceptedTcbStatuses: ['UpToDate'],
    acceptedAdvisories: [],
    allowDebug: false,
    allowSimulation: false,
    expected: { mrenclave: UNIQUE.toLowerCase() },
    minimum: {},
  });
});

test('SignerID, ProductID and SecurityVersion: expected mrsigner and isvProdId, minimum isvSvn', () => {
  const policy = packagePolicy(parse(marbleRunExample()).manifest.Packages['frontend'] as Package);
  assert.deepEqual(policy.expected, {
    mrsigner: '43361affedeb75affee9baec7e054a5e14883213e5a121b67d74a0e12e9d2b7a',
    isvProdId: 43,
  });
  assert.deepEqual(policy.minimum, { isvSvn: 3 });
  assert.equal(policy.allowDebug, true);
  const claims = {
    mrsigner: '43361affedeb75affee9baec7e054a5e14883213e5a121b67d74a0e12e9d2b7a',
    isvProdId: 43,
    isvSvn: 3,
    debug: true,
  };
  checkPolicy(verdict(claims), policy);
  checkPolicy(verdict({ ...claims, isvSvn: 4 }), policy);
  assert.throws(
    () => checkPolicy(verdict({ ...claims, isvSvn: 2 }), policy),
    (e) => e instanceof CloisterError && e.field === 'claims.isvSvn',
  );
  assert.throws(
    () => checkPolicy(verdict({ ...claims, isvProdId: 44 }), policy),
    (e) => e instanceof CloisterError && e.field === 'claims.isvProdId',
  );
});

test('accepted TCB statuses and advisories come from the package', () => {
  const policy = packagePolicy(parse(marbleRunExample()).manifest.Packages['backend'] as Package);
  assert.deepEqual(policy.acceptedTcbStatuses, [
    'UpToDate',
    'SWHardeningNeeded',
    'ConfigurationNeeded',
    'ConfigurationAndSWHardeningNeeded',
  ]);
  assert.deepEqual(policy.acceptedAdvisories, ['INTEL-SA-00001']);
  const claims = { mrenclave: '6b2822ac2585040d4b9397675d54977a71ef292ab5b3c0a6acceca26074ae585' };
  checkPolicy(verdict(claims, { tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00001'] }), policy);
  assert.throws(
    () => checkPolicy(verdict(claims, { tcbStatus: 'OutOfDate' }), policy),
    (e) => e instanceof CloisterError && e.field === 'tcbStatus',
  );
  assert.throws(
    () => checkPolicy(verdict(claims, { advisoryIds: ['INTEL-SA-00002'] }), policy),
    (e) => e instanceof CloisterError && e.field === 'advisoryIds',
  );
});

test('TDX: MRTD and RTMRs[i] are expected mrtd and rtmr<i>', () => {
  const policy = packagePolicy({
    TEE: 'tdx',
    Debug: false,
    MRTD: 'AA'.repeat(48),
    RTMRs: ['01'.repeat(48), '02'.repeat(48)],
  });
  assert.deepEqual(policy.expected, { mrtd: 'aa'.repeat(48), rtmr0: '01'.repeat(48), rtmr1: '02'.repeat(48) });
  assert.throws(
    () => checkPolicy(verdict({ mrenclave: 'aa'.repeat(32) }, { tee: 'tdx' }), policy),
    (e) => e instanceof CloisterError && e.field === 'claims.mrtd',
  );
});

test('SNP: Measurement and HostData are expected measurement and hostData', () => {
  assert.deepEqual(
    packagePolicy({ TEE: 'snp', Debug: false, Measurement: 'CC'.repeat(48), HostData: 'DD'.repeat(32) }).expected,
    { measurement: 'cc'.repeat(48), hostData: 'dd'.repeat(32) },
  );
});

test('TEE sim allows simulated evidence; sgx does not', () => {
  const sim = packagePolicy({ TEE: 'sim', Debug: false, UniqueID: UNIQUE });
  assert.equal(sim.allowSimulation, true);
  checkPolicy(verdict({ mrenclave: UNIQUE.toLowerCase() }, { simulation: true }), sim);
  const sgx = packagePolicy({ TEE: 'sgx', Debug: false, UniqueID: UNIQUE });
  assert.throws(
    () => checkPolicy(verdict({ mrenclave: UNIQUE.toLowerCase() }, { simulation: true }), sgx),
    (e) => e instanceof CloisterError && e.field === 'simulation',
  );
});

test('a TCB status no platform reports matches nothing; UpToDate is always accepted (ego tcb.CheckStatus)', () => {
  const policy = packagePolicy({ TEE: 'sgx', Debug: true, AcceptedTCBStatuses: ['SWHardeningNeeded', 'Great'] });
  assert.deepEqual(policy.acceptedTcbStatuses, ['UpToDate', 'SWHardeningNeeded']);
});

test('a hand-made package with an unknown TEE is refused', () => {
  throwsAt(() => packagePolicy({ TEE: 'sev' as Package['TEE'], Debug: false }), 'MANIFEST_INVALID', 'TEE');
});
