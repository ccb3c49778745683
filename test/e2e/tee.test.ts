import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveProgram } from '../../src/run/measure.js';
import { startEmulator, type Emulator } from '../evidence/emulator.js';
import { cloister, pinRoot, runService, startCoordinator, tempDir, type RunningCoordinator } from './harness.js';

/**
 * Every evidence provider end to end: a real coordinator, the real `cloister run`, and emulated
 * TEE interfaces served by real helper processes (configfs-tsm for TDX and SEV-SNP, Gramine's
 * /dev/attestation for SGX). Activation binds the key and nonce through each; a stale or raced
 * interface is refused; the coordinator itself runs on an emulated TD and is attested.
 */

const dir = tempDir('tee');
const simDir = join(dir, 'sim');
const sh = resolveProgram('sh');
const nowhere = join(dir, 'nowhere');
let c: RunningCoordinator;
const emulators: Record<string, Emulator> = {};
const root = join(dir, 'root.pem');
const at = { simDir, root, cwd: dir };
const program = [sh, '-c', 'echo "ran as $CLOISTER_SERVICE"'];

/** Runs the service through one interface; every other interface points nowhere, so `auto` finds only that one. */
const run = (service: string, extra: string[]) =>
  runService(c, at, service, program, {
    extra: ['--dev-attestation', nowhere, '--tsm-root', nowhere, ...extra],
    env: { CLOISTER_SERVICE: service },
  });

describe('TEE evidence providers, end to end', () => {
  before(async () => {
    // One after the other: the first makes the simulated platform the others share.
    emulators['tdx'] = await startEmulator(['--sim-dir', simDir, '--tsm-root', join(dir, 'tdx'), '--provider', 'tdx']);
    emulators['snp'] = await startEmulator(['--sim-dir', simDir, '--tsm-root', join(dir, 'snp'), '--provider', 'snp']);
    emulators['sgx'] = await startEmulator(['--sim-dir', simDir, '--dev-attestation', join(dir, 'dev-attestation')]);
    emulators['racy'] = await startEmulator([
      ...['--sim-dir', simDir, '--tsm-root', join(dir, 'racy'), '--provider', 'tdx'],
      '--concurrent-writer',
    ]);
    emulators['stale'] = await startEmulator([
      ...['--sim-dir', simDir, '--tsm-root', join(dir, 'stale'), '--provider', 'tdx'],
      '--stale',
    ]);
    const id = (name: string, claim: string) => emulators[name]?.identity[claim] as string;
    const manifest = {
      Packages: {
        td: { TEE: 'sim', MRTD: id('tdx', 'mrtd') },
        guest: { TEE: 'sim', Measurement: id('snp', 'measurement') },
        enclave: { TEE: 'sim', UniqueID: id('sgx', 'mrenclave') },
        // The same TD measurement, but claimed as genuine TDX: simulated evidence must not pass for it.
        genuine: { TEE: 'tdx', MRTD: id('tdx', 'mrtd') },
      },
      Marbles: {
        td: { Package: 'td' },
        guest: { Package: 'guest' },
        enclave: { Package: 'enclave' },
        genuine: { Package: 'genuine' },
      },
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    c = await startCoordinator(join(dir, 'data'), simDir, ['--dev-attestation', nowhere, '--tsm-root', nowhere]);
    const pinned = await pinRoot(c, simDir, root);
    assert.equal(pinned.code, 0, pinned.stderr);
    const set = await cloister([
      'manifest',
      'set',
      join(dir, 'manifest.json'),
      '--coordinator',
      c.client,
      '--root',
      root,
    ]);
    assert.equal(set.code, 0, set.stderr + set.stdout);
  });
  after(async () => {
    await c.stop('SIGKILL');
    await Promise.all(Object.values(emulators).map((e) => e.stop()));
  });

  it('a TD activates with a TDX quote from configfs-tsm (--tee auto finds it and says so)', async () => {
    const r = await run('td', ['--tsm-root', join(dir, 'tdx')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ran as td/);
    assert.match(r.stderr, /evidence from configfs-tsm .*tdx.*\(tdx_guest\)/);
    assert.match(r.stderr, /attestation_type absent/);
  });

  it('an SEV-SNP guest activates with its report and the host certificate table (--tee snp, --privlevel)', async () => {
    const r = await run('guest', ['--tee', 'snp', '--tsm-root', join(dir, 'snp'), '--privlevel', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ran as guest/);
  });

  it('an SGX enclave in a library OS activates with a quote from /dev/attestation', async () => {
    const r = await run('enclave', ['--dev-attestation', join(dir, 'dev-attestation')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /evidence from .*dev-attestation \(dcap\)/);
  });

  it('the measurement is pinned: a TD is refused under the package of another TEE', async () => {
    const r = await run('guest', ['--tsm-root', join(dir, 'tdx')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ACTIVATION_REFUSED.*measurement/);
  });

  it('simulated evidence never passes for a genuine TDX package', async () => {
    const r = await run('genuine', ['--tsm-root', join(dir, 'tdx')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ACTIVATION_REFUSED.*simulated platform.*package has TEE "tdx"/);
  });

  it('a concurrent writer on configfs-tsm is detected before anything is sent', async () => {
    const r = await run('td', ['--tsm-root', join(dir, 'racy')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EVIDENCE_CONCURRENT.*generation 2, expected 1/);
  });

  it('a provider that returns stale evidence is refused: the report data binds the nonce', async () => {
    const first = await run('td', ['--tsm-root', join(dir, 'stale')]);
    assert.equal(first.code, 0, first.stderr);
    const second = await run('td', ['--tsm-root', join(dir, 'stale')]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /ACTIVATION_REFUSED.*report data does not bind/);
  });

  it('a missing interface is a specific error naming the path', async () => {
    const tdx = await run('td', ['--tee', 'tdx']);
    assert.equal(tdx.code, 1);
    assert.match(tdx.stderr, new RegExp(`EVIDENCE_UNAVAILABLE.*${join(nowhere, 'report')}`));
    const sgx = await run('enclave', ['--tee', 'sgx']);
    assert.equal(sgx.code, 1);
    assert.match(sgx.stderr, new RegExp(`EVIDENCE_UNAVAILABLE.*${join(nowhere, 'attestation_type')}`));
  });

  for (const kind of ['tdx', 'snp'] as const)
    it(`a coordinator on an emulated ${kind === 'tdx' ? 'TD' : 'SEV-SNP guest'} gives its own evidence, and cloister verify attests it`, async () => {
      const own = await startCoordinator(join(dir, `data-${kind}`), simDir, [
        '--tee',
        kind,
        '--tsm-root',
        join(dir, kind),
      ]);
      try {
        assert.match(own.log(), new RegExp(`"evidence":"configfs-tsm [^"]*${kind}`));
        const v = await cloister([
          ...['verify', '--coordinator', own.client, '--simulation', '--sim-dir', simDir],
          ...['--root-out', join(dir, `root-${kind}.pem`), '--json'],
        ]);
        assert.equal(v.code, 0, v.stderr + v.stdout);
        const out = JSON.parse(v.stdout) as { tee: string; simulation: boolean };
        assert.equal(out.tee, kind);
        assert.equal(out.simulation, true);
        // Without --simulation the simulated coordinator is refused.
        const refused = await cloister(['verify', '--coordinator', own.client, '--sim-dir', simDir, '--json']);
        assert.equal(refused.code, 1);
      } finally {
        await own.stop('SIGKILL');
      }
    });

  it('without --simulation the coordinator needs a TEE, and says which interfaces it looked for', async () => {
    const r = await cloister([
      ...[
        'coordinator',
        '--data-dir',
        join(dir, 'data-none'),
        '--client-addr',
        '127.0.0.1:0',
        '--mesh-addr',
        '127.0.0.1:0',
      ],
      ...['--tsm-root', nowhere, '--dev-attestation', nowhere],
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NO_TEE/);
  });
});
