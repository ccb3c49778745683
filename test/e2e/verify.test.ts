import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cloister, errorCode, startCoordinator, tempDir, type RunningCoordinator } from './harness.js';

/** `cloister verify` judges the coordinator's identity, not only that some enclave answered. */

const dir = tempDir('verify');
const simDir = join(dir, 'sim');
let c: RunningCoordinator;
const verify = (...args: string[]) =>
  cloister([
    'verify',
    '--coordinator',
    c.client,
    '--simulation',
    '--sim-dir',
    simDir,
    '--root-out',
    join(dir, 'root.pem'),
    '--json',
    ...args,
  ]);

describe('cloister verify and the expected identity', () => {
  before(async () => {
    c = await startCoordinator(join(dir, 'data'), simDir);
  });
  after(() => c.stop('SIGKILL'));

  it('prints the measured identity, and refuses one that differs from --mrenclave, --mrsigner or a --policy file', async () => {
    const first = await verify();
    assert.equal(first.code, 0, first.stderr + first.stdout);
    const { mrenclave, mrsigner, tee } = JSON.parse(first.stdout) as {
      mrenclave: string;
      mrsigner: string;
      tee: string;
    };
    assert.equal(tee, 'sgx');
    assert.match(mrenclave, /^[0-9a-f]{64}$/);
    assert.equal((await verify('--mrenclave', mrenclave)).code, 0);
    assert.equal((await verify('--mrenclave', mrenclave.toUpperCase(), '--mrsigner', mrsigner)).code, 0);

    const other = `${mrenclave.slice(0, 62)}${mrenclave.endsWith('00') ? '01' : '00'}`;
    const wrong = await verify('--mrenclave', other);
    assert.equal(wrong.code, 1);
    assert.equal(errorCode(wrong), 'POLICY_VIOLATION');
    assert.equal(errorCode(await verify('--mrsigner', '00'.repeat(32))), 'POLICY_VIOLATION');

    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ expected: { mrenclave: other } }));
    assert.equal(errorCode(await verify('--policy', policy)), 'POLICY_VIOLATION');
    writeFileSync(policy, JSON.stringify({ expected: { mrenclave }, minimum: { isvSvn: 0 } }));
    assert.equal((await verify('--policy', policy)).code, 0);
    writeFileSync(policy, JSON.stringify({ expected: { mrenclave }, minimum: { isvSvn: 1 } }));
    assert.equal(errorCode(await verify('--policy', policy)), 'POLICY_VIOLATION');
  });

  it('a malformed policy file is a usage error that names it', async () => {
    const policy = join(dir, 'bad-policy.json');
    writeFileSync(policy, JSON.stringify({ expected: { mrenclave: 'ab' }, allowEverything: true }));
    const r = await verify('--policy', policy);
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), 'POLICY_INVALID');
  });
});
