import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CloisterError } from '../../src/lib/errors.js';
import { DcapVerifier, checkIdentityPinned, checkPolicy, parsePolicy, type Policy } from '../../src/attest/index.js';

/** Policy is separate from verification: the same verdict passes or fails by the rules given. */

const dir = fileURLToPath(new URL('../../../test/vectors/sgx/automata-sgx-v3-debug-00a067110000/', import.meta.url));
const verifier = new DcapVerifier();
const verdict = verifier.verify(new Uint8Array(readFileSync(`${dir}quote.bin`)), {
  collateral: verifier.prepare(JSON.parse(readFileSync(`${dir}collateral.json`, 'utf8'))),
  now: 1750334171,
});
const mrenclave = 'a39d532e6ac9fe8ad9418851bbe26e1dee7408006505fce8580b511b97e704b4';
const lenient: Policy = {
  acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'],
  acceptedAdvisories: ['INTEL-SA-00289', 'INTEL-SA-00615'],
  allowDebug: true,
};

function refused(policy: Policy, field: string): void {
  assert.throws(
    () => checkPolicy(verdict, policy),
    (e) => e instanceof CloisterError && e.code === 'POLICY_VIOLATION' && e.field === field,
  );
}

test('the default policy refuses a debug enclave on an out-of-date platform', () => refused({}, 'tcbStatus'));
test('each rule is checked', () => {
  checkPolicy(verdict, {
    ...lenient,
    expected: { mrenclave: mrenclave.toUpperCase(), isvProdId: 0 },
    minimum: { isvSvn: 0 },
  });
  refused({ ...lenient, acceptedAdvisories: ['INTEL-SA-00289'] }, 'advisoryIds');
  refused({ ...lenient, allowDebug: false }, 'claims.debug');
  refused({ ...lenient, expected: { mrenclave: '00'.repeat(32) } }, 'claims.mrenclave');
  refused({ ...lenient, expected: { mrtd: '00' } }, 'claims.mrtd');
  refused({ ...lenient, minimum: { isvSvn: 1 } }, 'claims.isvSvn');
  refused({ ...lenient, minimum: { fmspc: 1 } }, 'claims.fmspc');
});
test('simulated evidence needs allowSimulation', () => {
  const simulated = { ...verdict, simulation: true };
  assert.throws(
    () => checkPolicy(simulated, lenient),
    (e) => e instanceof CloisterError && e.field === 'simulation',
  );
  checkPolicy(simulated, { ...lenient, allowSimulation: true });
});
test('JSON policies are validated with their path', () => {
  assert.deepEqual(parsePolicy({ acceptedTcbStatuses: ['UpToDate'], allowDebug: false, expected: { isvSvn: 1 } }), {
    acceptedTcbStatuses: ['UpToDate'],
    allowDebug: false,
    expected: { isvSvn: 1 },
  });
  for (const [bad, path] of [
    [{ acceptedTcbStatuses: ['Great'] }, 'policy.acceptedTcbStatuses[0]'],
    [{ allowDebug: 'yes' }, 'policy.allowDebug'],
    [{ expected: { a: [] } }, 'policy.expected.a'],
    [{ minimum: { isvSvn: -1 } }, 'policy.minimum.isvSvn'],
    [{ mrenclave: 'x' }, 'policy.mrenclave'],
    [[], 'policy'],
  ] as const) {
    assert.throws(
      () => parsePolicy(bad),
      (e) => e instanceof CloisterError && e.code === 'POLICY_INVALID' && e.path === path,
      path,
    );
  }
});

test('genuine evidence needs a pinned identity: a policy without one is IDENTITY_REQUIRED, naming what was measured', () => {
  assert.throws(
    () => checkIdentityPinned(verdict, lenient, 'the coordinator'),
    (e) =>
      e instanceof CloisterError &&
      e.code === 'IDENTITY_REQUIRED' &&
      (e.actual as Record<string, unknown>)['mrenclave'] === mrenclave,
  );
  // Pinning something that is not an identity (a TCB claim, the product id) is not enough.
  assert.throws(
    () => checkIdentityPinned(verdict, { ...lenient, expected: { isvProdId: 0, debug: true } }, 'the coordinator'),
    (e) => e instanceof CloisterError && e.code === 'IDENTITY_REQUIRED',
  );
  checkIdentityPinned(verdict, { expected: { mrenclave } }, 'the coordinator');
  checkIdentityPinned(verdict, { expected: { mrsigner: '00' } }, 'the coordinator'); // pinned (checkPolicy judges the value)
});
