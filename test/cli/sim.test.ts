import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../e2e/harness.js';

/** `cloister sim` end to end: real processes, real files, verified by `cloister attest verify`. */

const BIN = fileURLToPath(new URL('../../../bin/cloister.js', import.meta.url));
const dir = tempDir('sim');
const at = (name: string) => join(dir, name);

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function verify(
  quote: string,
  collateral: string,
  ...extra: string[]
): {
  code: number | null;
  out: {
    ok: boolean;
    tcbStatus?: string;
    simulation?: boolean;
    claims?: Record<string, unknown>;
    error?: { code: string };
  };
} {
  const r = run('attest', 'verify', quote, '--collateral', collateral, '--json', ...extra);
  return { code: r.code, out: JSON.parse(r.stdout) as never };
}

test('init keeps its state private and never replaces it without --force', () => {
  assert.equal(run('sim', 'init', '--sim-dir', 'd').code, 0);
  const state = readFileSync(at('d/platform.json'), 'utf8');
  assert.equal(statSync(at('d/platform.json')).mode & 0o777, 0o600);
  const again = run('sim', 'init', '--sim-dir', 'd', '--json');
  assert.equal((JSON.parse(again.stdout) as { created: boolean }).created, false);
  assert.equal(readFileSync(at('d/platform.json'), 'utf8'), state);
});

test('an SGX quote verifies with the simulation root only, labelled simulation', () => {
  const mrenclave = 'ab'.repeat(32);
  assert.equal(
    run(
      'sim',
      'quote',
      '--sim-dir',
      'd',
      '--out',
      'q.bin',
      '--mrenclave',
      mrenclave,
      '--mrsigner',
      '01'.repeat(32),
      '--isv-prod-id',
      '7',
      '--isv-svn',
      '3',
      '--report-data',
      'c0ffee',
      '--debug',
    ).code,
    0,
  );
  assert.equal(run('sim', 'collateral', '--sim-dir', 'd', '--out', 'c.json').code, 0);
  const ok = verify('q.bin', 'c.json', '--trust-root', 'd/root.pem');
  assert.equal(ok.code, 0);
  assert.equal(ok.out.tcbStatus, 'UpToDate');
  assert.equal(ok.out.simulation, true);
  assert.deepEqual(
    [ok.out.claims?.['mrenclave'], ok.out.claims?.['isvProdId'], ok.out.claims?.['isvSvn'], ok.out.claims?.['debug']],
    [mrenclave, 7, 3, true],
  );
  assert.equal(ok.out.claims?.['reportData'], `c0ffee${'00'.repeat(61)}`);
  const intel = verify('q.bin', 'c.json');
  assert.equal(intel.code, 1);
  assert.equal(intel.out.error?.code, 'UNTRUSTED_ROOT');
});

test('a TDX quote verifies; SGX collateral does not fit it', () => {
  const q = run(
    'sim',
    'quote',
    '--sim-dir',
    'd',
    '--tdx',
    '--mrtd',
    'cd'.repeat(48),
    '--rtmr',
    '11'.repeat(48),
    '--out',
    't.bin',
  );
  assert.equal(q.code, 0, q.stderr);
  assert.equal(run('sim', 'collateral', '--sim-dir', 'd', '--tdx', '--out', 'tc.json').code, 0);
  const ok = verify('t.bin', 'tc.json', '--trust-root', 'd/root.pem', '--tee', 'tdx');
  assert.equal(ok.code, 0);
  assert.deepEqual([ok.out.claims?.['mrtd'], ok.out.claims?.['rtmr0']], ['cd'.repeat(48), '11'.repeat(48)]);
  assert.equal(verify('t.bin', 'c.json', '--trust-root', 'd/root.pem').out.error?.code, 'COLLATERAL_MISMATCH');
});

test('revoked PCK and stale collateral are refused', () => {
  run('sim', 'collateral', '--sim-dir', 'd', '--revoke-pck', '--out', 'r.json');
  assert.equal(verify('q.bin', 'r.json', '--trust-root', 'd/root.pem').out.error?.code, 'CERT_REVOKED');
  run('sim', 'collateral', '--sim-dir', 'd', '--stale', '--out', 's.json');
  assert.match(
    String(verify('q.bin', 's.json', '--trust-root', 'd/root.pem').out.error?.code),
    /^(COLLATERAL|CRL)_EXPIRED$/,
  );
});

test('unreadable state is refused and left as it is', () => {
  run('sim', 'init', '--sim-dir', 'bad');
  writeFileSync(at('bad/platform.json'), '{"version":1}');
  const r = run('sim', 'quote', '--sim-dir', 'bad', '--json');
  assert.equal(r.code, 1);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'SIM_STATE_INVALID');
  assert.equal(run('sim', 'init', '--sim-dir', 'bad').code, 1);
  assert.equal(readFileSync(at('bad/platform.json'), 'utf8'), '{"version":1}');
  assert.equal(run('sim', 'quote', '--sim-dir', 'd', '--mrenclave', 'abc').code, 2);
});
