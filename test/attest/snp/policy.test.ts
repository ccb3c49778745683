import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SnpVerifier, checkPolicy, parsePolicy, type Verdict } from '../../../src/attest/index.js';
import { GENOA, GOSEV, MILAN, VLEK, certsOf, expectedOf, reportOf, throwsCode } from './helpers.js';
import { parseCertificate } from '../../../src/attest/lib/x509.js';

/** The SNP rules of policy: measurement and host data, minimum TCB per component, debug, migration agent, chip ids, VMPL. */

const verifier = new SnpVerifier();
const verdictOf = (name: string): Verdict =>
  verifier.verify(reportOf(name), certsOf(name), { now: expectedOf(name).verify_at_unix });
const genoa = verdictOf(GENOA);
const gosev = verdictOf(GOSEV);
const vlek = verifier.verify(reportOf(VLEK), certsOf(VLEK), {
  now: parseCertificate(certsOf(VLEK).vlek as Uint8Array).notBefore + 86_400,
});

test('expected measurement and host data (hex in any case)', () => {
  const measurement = genoa.claims['measurement'] as string;
  checkPolicy(genoa, { expected: { measurement: measurement.toUpperCase(), hostData: '00'.repeat(32) } });
  throwsCode(
    () => checkPolicy(genoa, { expected: { measurement: verdictOf(MILAN).claims['measurement'] as string } }),
    'POLICY_VIOLATION',
    'claims.measurement',
  );
});

test('a debug guest is refused unless allowed', () => {
  assert.equal(gosev.claims['debug'], true);
  throwsCode(() => checkPolicy(gosev), 'POLICY_VIOLATION', 'claims.debug');
  checkPolicy(gosev, { allowDebug: true });
  checkPolicy(genoa);
});

test('a guest that allows a migration agent is refused unless allowed', () => {
  const migratable: Verdict = { ...genoa, claims: { ...genoa.claims, migrateMa: true } };
  throwsCode(() => checkPolicy(migratable), 'POLICY_VIOLATION', 'claims.migrateMa');
  checkPolicy(migratable, { allowMigrationAgent: true });
});

test('minimum TCB per component applies to REPORTED_TCB, COMMITTED_TCB and CURRENT_TCB', () => {
  // Genoa: bootloader 10, TEE 0, SNP 23, microcode 84 in all three.
  checkPolicy(genoa, { minimumTcb: { bootloader: 10, tee: 0, snp: 23, microcode: 84 } });
  throwsCode(
    () => checkPolicy(genoa, { minimumTcb: { microcode: 85 } }),
    'POLICY_VIOLATION',
    'claims.reportedTcb.microcode',
  );
  throwsCode(() => checkPolicy(genoa, { minimumTcb: { snp: 24 } }), 'POLICY_VIOLATION', 'claims.reportedTcb.snp');
  // A Milan or Genoa TCB has no FMC: a policy that asks for one refuses it.
  throwsCode(() => checkPolicy(genoa, { minimumTcb: { fmc: 0 } }), 'POLICY_VIOLATION', 'claims.reportedTcb.fmc');
  // The VLEK vector committed a newer microcode (219) than it reports (217).
  checkPolicy(vlek, { minimumTcb: { microcode: 217 } });
  throwsCode(
    () => checkPolicy(vlek, { minimumTcb: { microcode: 218 } }),
    'POLICY_VIOLATION',
    'claims.reportedTcb.microcode',
  );
});

test('allowed chip ids and the maximum VMPL', () => {
  const chip = genoa.claims['chipId'] as string;
  checkPolicy(genoa, { allowedChipIds: ['00', chip.toUpperCase()] });
  throwsCode(
    () => checkPolicy(genoa, { allowedChipIds: [gosev.claims['chipId'] as string] }),
    'POLICY_VIOLATION',
    'claims.chipId',
  );
  checkPolicy(vlek, { maxVmpl: 1 });
  throwsCode(() => checkPolicy(vlek, { maxVmpl: 0 }), 'POLICY_VIOLATION', 'claims.vmpl');
});

test('parsePolicy reads the SNP fields and names the JSON path of a bad one', () => {
  const policy = parsePolicy({
    minimumTcb: { bootloader: 3, microcode: 115 },
    allowedChipIds: ['ab01'],
    maxVmpl: 0,
    allowMigrationAgent: false,
  });
  assert.deepEqual(policy, {
    minimumTcb: { bootloader: 3, microcode: 115 },
    allowedChipIds: ['ab01'],
    maxVmpl: 0,
    allowMigrationAgent: false,
  });
  throwsCode(() => parsePolicy({ minimumTcb: { ucode: 1 } }), 'POLICY_INVALID');
  throwsCode(() => parsePolicy({ minimumTcb: { snp: 256 } }), 'POLICY_INVALID');
  throwsCode(() => parsePolicy({ allowedChipIds: ['xyz'] }), 'POLICY_INVALID');
  throwsCode(() => parsePolicy({ maxVmpl: 4 }), 'POLICY_INVALID');
  throwsCode(() => parsePolicy({ allowMigrationAgent: 'yes' }), 'POLICY_INVALID');
});
