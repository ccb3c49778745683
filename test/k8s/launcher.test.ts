import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launcherArgv } from '../../src/k8s/webhook/mutate.js';
import { resolveProgram } from '../../src/run/measure.js';
import { cloister, tempDir } from '../e2e/harness.js';
import { REPO } from './cluster.js';

/**
 * The launcher bundle runs cloister in an image that has neither Node nor libc: in place, and in
 * a root that has only a static busybox, entered with chroot. The busybox comes from the project's
 * own installer (Debian's busybox-static); without it, or without root for chroot, that test is
 * skipped and says why.
 */

const busybox = spawnSync('sh', [join(REPO, 'scripts/install-busybox.sh')], { encoding: 'utf8' });
const SKIP_CHROOT =
  process.getuid?.() !== 0
    ? 'chroot needs root'
    : busybox.status !== 0
      ? `no static busybox: ${busybox.stderr.trim() || String(busybox.error)}`
      : false;

const dir = tempDir('launcher');
const root = join(dir, 'root');
const bundle = join(root, 'cloister');
const run = (argv: string[], args: string[]) =>
  execFileSync(argv[0] as string, [...argv.slice(1), ...args], { encoding: 'utf8', env: { PATH: '/bin' } });

describe('the launcher bundle', () => {
  before(async () => {
    // As in the image: all of cloister.
    const installed = await cloister(['launcher', 'install', '--all', bundle, '--json']);
    assert.equal(installed.code, 0, installed.stderr);
    const info = JSON.parse(installed.stdout) as { ok: boolean; libraries: string[] };
    assert.ok(info.libraries.includes('ld.so') && info.libraries.includes('libc.so.6'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs `cloister run --help` in place and copies itself without what only the Kubernetes commands use', () => {
    assert.ok(
      existsSync(join(bundle, 'lib/ld.so')) &&
        existsSync(join(bundle, 'node')) &&
        existsSync(join(bundle, 'app/bin/cloister.js')),
    );
    assert.ok(existsSync(join(bundle, 'app/node_modules/@grpc/grpc-js')));
    assert.match(run(launcherArgv(bundle), ['run', '--help']), /Usage: cloister run/);

    // Run from the bundle (as the init container does), `launcher install` copies the bundle.
    const copy = join(dir, 'copy');
    run(launcherArgv(bundle), ['launcher', 'install', copy]);
    assert.deepEqual(readFileSync(join(copy, 'bundle.json')), readFileSync(join(bundle, 'bundle.json')));
    assert.ok(
      !existsSync(join(copy, 'app/node_modules/@kubernetes')) &&
        !existsSync(join(copy, 'app/node_modules/@grpc')) &&
        existsSync(join(copy, 'app/node_modules/commander')),
    );
    assert.match(run(launcherArgv(copy), ['run', '--help']), /Usage: cloister run/);
  });

  it('runs and copies itself in a root that has only a static busybox (chroot)', { skip: SKIP_CHROOT }, () => {
    mkdirSync(join(root, 'bin'), { recursive: true });
    cpSync(busybox.stdout.trim(), join(root, 'bin/busybox'), { dereference: true });
    const chroot = [resolveProgram('chroot'), root];
    assert.match(run([...chroot, ...launcherArgv('/cloister')], ['run', '--help']), /Usage: cloister run/);
    run([...chroot, ...launcherArgv('/cloister')], ['launcher', 'install', '/slim']);
    assert.deepEqual(readFileSync(join(root, 'slim/bundle.json')), readFileSync(join(bundle, 'bundle.json')));
    assert.ok(!existsSync(join(root, 'slim/app/node_modules/@grpc')));
    assert.match(run([...chroot, ...launcherArgv('/slim')], ['run', '--help']), /Usage: cloister run/);
  });
});
